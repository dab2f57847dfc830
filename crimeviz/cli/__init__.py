"""``python -m crimeviz``: the command line for everything the app does. ``main`` builds the
parser and runs store, account, retention and benchmark commands; ``forecast``, ``patrol``,
``streetview`` and ``cctv`` register their own subcommands; ``common`` holds ``--db``,
``--user``, the role check and the one-line error every command ends with."""
