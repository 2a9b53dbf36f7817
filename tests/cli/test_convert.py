"""`engine convert` previews every output format for any valid order."""

from __future__ import annotations

from hypothesis import given

from engine.cli.convert import _preview_mcn
from engine.formats import RenderContext
from tests.strategies import orders


class TestPreviewMcn:
    @given(orders())
    def test_preview_mcn_fits_every_format(self, order):
        """The placeholder MCN is letters, digits and hyphens, 36 at most, for any order id."""
        mcn = _preview_mcn(order)
        assert len(mcn) <= 36
        assert mcn.replace("-", "").isalnum() and mcn.isascii()

    def test_order_id_with_punctuation_renders_as_clets(self, fixture_order, capsys):
        """An order id with dots, colons and slashes still previews as a valid CLETS message."""
        from engine.clets import render_clets

        # Within PNO's 20 characters once . : / are removed (a longer id is refused at PNO).
        order = fixture_order.model_copy(update={"order_id": "A.b:c/" + "9" * 14})
        ctx = RenderContext(mcn=_preview_mcn(order), sent_at=order.issued_at,
                            doj_record_id="H000000001")
        assert render_clets(order, ctx).body.startswith(b"MKE/")
