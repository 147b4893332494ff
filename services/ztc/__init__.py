"""``ztc``: the command line for designers and operators."""
