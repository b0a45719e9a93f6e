"""One module per family of question the offline generator decomposes, and the fallback.

Each family module holds the patterns of its questions and the handlers that write their programs,
each handler ``(question, program) -> bool`` with a docstring listing the questions it takes. The
order in which they are tried is not here but in :mod:`dicec.codegen.offline.rules`.

* ``scene``: the whole scene ("Is it outdoors?", "What room is this?").
* ``damage``: defects on parts of a vehicle or building ("Which parts of the car are damaged?").
* ``search``: a category searched under several names ("Is there plastic litter in this frame?").
* ``counting``: "How many dogs are there?", "Are there at least three cars?".
* ``position``: where an object is ("Is the bottle in the bottom of the image?", "Where is the car?").
* ``text``: what is written on something, read with ``read_text`` ("What does the licence plate say?").
* ``comparisons``: two objects compared ("Is the car bigger than the truck?", "... the same colour?").
* ``which``: which of two objects, which object has a property, who does something, which things
  of a kind there are ("What animals are there?").
* ``logic``: and/or of conditions ("Is there a cat, a dog or a bird?", "Is the field green and small?").
* ``choices``: a choice between named options ("Is the car red, blue or green?", "Is the cat on the
  couch or on the floor?").
* ``attributes``: an object's attribute ("What colour is the car?", "Is the table wooden?").
* ``relations``: relations between objects ("What is on the table?", "Is the cup left of the plate?").
* ``existence``: "Is there a dog?", "Are there helmets that are not white?".
* ``objects``: what one object does or has ("What is the man wearing?").
* ``fallback``: anything else, asked of the whole image.
"""
