"""argparse types shared by the engine's and the agent's command lines."""
import argparse


def int_at_least(minimum: int):
    """An argparse type: an integer >= minimum, with a message saying so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"  # argparse shows it in errors
    return parse
