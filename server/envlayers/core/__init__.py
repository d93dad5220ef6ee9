"""The envlayers domain core: never imports pygls or lsprotocol."""
