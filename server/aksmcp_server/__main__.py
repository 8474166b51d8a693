import sys


def main() -> int:
    print("aksmcp-server: under construction", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
