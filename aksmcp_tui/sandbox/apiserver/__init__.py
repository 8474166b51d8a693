"""The sandbox's HTTP API server (aiohttp.web): discovery, REST handlers, patch and apply."""
