"""ircli: incident response for AWS, as a command-line tool and a library."""

__version__ = "0.1.0"
