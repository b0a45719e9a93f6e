"""The parse form of a question: indirect, imperative, negative and contracted questions in direct form."""

from __future__ import annotations

import pytest

from dicec.codegen.offline.question import normalise


@pytest.mark.parametrize("asked, parsed", [
    # as before: case, colour, picture words, final punctuation
    ("What colour is the car?", "what color is the car"),
    ("Are there any lamps in the scene?", "are there any lamps"),
    ("What do you think is on the roof?", "what is on the roof"),
    # contractions, and a possessive that is not one
    ("What's on the table?", "what is on the table"),
    ("Where's the dog?", "where is the dog"),
    ("Who's holding the umbrella?", "who is holding the umbrella"),
    ("Is the girl's dress red?", "is the girl's dress red"),
    # negative questions ask what the positive ones ask
    ("Isn't there a dog?", "is there a dog"),
    ("Aren't the shoes black?", "are the shoes black"),
    ("Doesn't the man wear a cap?", "does the man wear a cap"),
    ("Is the car not red?", "is the car not red"),
    # imperatives
    ("Count the dogs.", "how many dogs"),
    ("Count the number of red circles in the picture", "how many red circles"),
    ("Please, count the circles", "how many circles"),
    ("Can you count the dogs?", "how many dogs"),
    ("Show me the dogs", "where are the dogs"),
    ("Find the cat", "where is the cat"),
    ("Can you find a cat?", "is there a cat"),
    ("Locate all the cars", "where are the cars"),
    ("List the vehicles.", "what vehicles are there"),
    ("Read the sign", "what does the sign say"),
    ("Check whether the door is open", "is the door open"),
    # indirect questions
    ("Tell me what colour the car is.", "what color is the car"),
    ("Please tell me what the man is holding", "what is the man holding"),
    ("Can you tell me whether there's a dog?", "is there a dog"),
    ("Can you tell me if the car is red?", "is the car red"),
    ("Do you know how many dogs there are?", "how many dogs are there"),
    ("I want to know if there are any cats", "are there any cats"),
    ("Tell me the colour of the car", "what is the color of the car"),
    ("Tell me the number of dogs", "how many dogs"),
    ("Show me what is on the table", "what is on the table"),
    ("Is it true that the man has a hat?", "does the man have a hat"),
    ("Do you think the car is red?", "is the car red"),
    ("Could you see a bird?", "can you see a bird"),
    # a colon before the options is a comma
    ("Which one is taller: the man or the woman?", "which one is taller, the man or the woman"),
    ("How many of the people are wearing hats?", "how many people are wearing hats"),
    # direct questions stay as they are
    ("Which of the animals is bigger?", "which of the animals is bigger"),
    ("Who wears a cap?", "who wears a cap"),
    ("What is the number on the bus?", "what is the number on the bus"),
])
def test_normalise(asked, parsed):
    assert normalise(asked) == parsed
