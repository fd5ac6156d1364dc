"""The one exception for bad input: its message is a single line that says what is wrong and
what would be valid. The command line prints it and exits with code 2."""


class RlkitError(Exception):
    """Bad input from the user: an unknown key, a wrong value, a broken file."""
