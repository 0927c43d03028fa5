"""Highlights mark the words a search matched and escape everything else, so a storefront can
insert them as HTML whatever a product's text holds."""

import pytest

from backend.catalog import selectors
from tests.factories import product_create

pytestmark = pytest.mark.django_db


def highlights(search: str) -> dict[str, tuple[str, str]]:
    """Each found product's name and highlight (name and description), as HTML."""
    products = selectors.product_highlights(
        selectors.product_list(viewer=None, search=search), search=search
    )
    return {
        product.name: (
            selectors.highlighted_html(product.highlight_name),
            selectors.highlighted_html(product.highlight_description),
        )
        for product in products
    }


def test_matched_words_are_marked_as_stems_and_the_last_as_a_prefix() -> None:
    product_create(name="Brass desk lamp", description="A lamp for desks and lampshades.")
    assert highlights("desk lamp") == {
        "Brass desk lamp": (
            "Brass <mark>desk</mark> <mark>lamp</mark>",
            # A passage: words of three letters or fewer are trimmed off its ends.
            "<mark>lamp</mark> for <mark>desks</mark> and <mark>lampshades</mark>",
        )
    }
    # Only the last word is a prefix: "lamp" before "desk" matches lamps, not lampshades.
    [(_, description)] = highlights("lamp desk").values()
    assert description == "<mark>lamp</mark> for <mark>desks</mark> and lampshades"


def test_markup_and_entities_in_the_text_are_escaped() -> None:
    product_create(
        name='Lamp <script>alert("x")</script> & shade',
        description="<b>Bold</b> lamp &amp; 'quoted' <mark>fake</mark>",
    )
    [(name, description)] = highlights("lamp").values()
    assert name == (
        "<mark>Lamp</mark> &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; shade"
    )
    # A description's passages are its words: the text search parser reads tags as markup and
    # leaves them out; entities stay text.
    assert description == "Bold  <mark>lamp</mark> &amp;amp; &#x27;quoted&#x27;  fake"


def test_marker_characters_in_the_text_cannot_forge_a_mark() -> None:
    product_create(name="Lamp \x02forged\x03 <i>", description="")
    [(name, _)] = highlights("lamp").values()
    assert name == "<mark>Lamp</mark> forged &lt;i&gt;"


def test_a_long_description_is_cut_to_passages_around_the_matches() -> None:
    filler = " ".join(f"word{i}" for i in range(60))
    product_create(name="Kettle", description=f"{filler} whistling kettle {filler} end")
    [(_, description)] = highlights("kettle").values()
    assert "<mark>kettle</mark>" in description
    assert len(description.split()) <= 2 * 20 + 1  # two passages of MaxWords and a separator
    assert "end" not in description.split()


def test_the_word_a_typo_was_corrected_to_is_marked() -> None:
    product_create(name="Kettle", description="")
    assert highlights("kettel") == {"Kettle": ("<mark>Kettle</mark>", "")}
