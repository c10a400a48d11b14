"""Images in and out: safe decoding, training folders and packs, the data-set recipes, procedural samples."""
