"""Form fields whose API values are checked before any handler runs: a bad value is a short gr.Error message.

Gradio's own Number and Slider compare and round whatever a client sends, so NaN, infinity or text fail
inside Gradio with a blank `{"error": null}`, a value below the minimum prints a traceback in the server's
log, and 3.5 becomes 4 where only whole numbers are allowed; a Textbox turns `{"a": 1}` or NaN into the text
"{'a': 1}" or "nan", and a single-choice Dropdown takes a list. These are the same components (same look,
same API) with those checks first:

    from pages.fields import Number, Slider
    seed = Number(0, label="seed", precision=0, minimum=0)

`app.build_app` gives every plain Number, Slider, Dataset (examples), Dropdown, Radio and Textbox of every
tab these checks (`check_fields`), so a tab built with the gr.* classes is covered too.

These are the values Gradio itself cannot take, with each component's own bounds; the rules of a request (an
expansion's K, q, options and weights) are the core's (`dppgrpo_core.expand.check_inputs`), stated nowhere here.
"""

from __future__ import annotations

import math
from abc import ABCMeta

import gradio as gr

from dppgrpo_core.checks import shown
from pages.context import refused


def checked_number(payload, label: str | None):
    """The payload when it is None or a finite int/float (not a bool); gr.Error naming the field otherwise."""
    if payload is None:
        return None
    if isinstance(payload, bool) or not isinstance(payload, (int, float)) or \
            (isinstance(payload, float) and not math.isfinite(payload)):
        raise refused(f"{label or 'This field'} must be a finite number, got {shown(payload)}.")
    return payload


def _in_range(component, payload):
    """The payload within the component's minimum and maximum, and whole where its precision is 0; a refusal
    (no traceback in the server's log) naming the field otherwise. None passes."""
    if payload is None:
        return None
    label = component.label or "This field"
    low, high = component.minimum, component.maximum
    if (low is not None and payload < low) or (high is not None and payload > high):
        bounds = f"from {low:g} to {high:g}" if low is not None and high is not None else \
            f"at least {low:g}" if low is not None else f"at most {high:g}"
        raise refused(f"{label} must be {bounds}, got {shown(payload)}.")
    if getattr(component, "precision", None) == 0 and payload != int(payload):
        raise refused(f"{label} must be a whole number, got {shown(payload)}.")
    return payload


def _number_preprocess(self, payload):
    return type(self).__base__.preprocess(self, _in_range(self, checked_number(payload, self.label)))


def _slider_preprocess(self, payload):
    if payload is None:
        raise refused(f"{self.label or 'This slider'} needs a value.")
    return type(self).__base__.preprocess(self, _in_range(self, checked_number(payload, self.label)))


def _textbox_preprocess(self, payload):
    if payload is not None and not isinstance(payload, str):  # never str(payload): {"a": 1} is not a prompt
        raise refused(f"{self.label or 'This field'} must be text, got {type(payload).__name__}.")
    return type(self).__base__.preprocess(self, payload)


def _dataset_preprocess(self, payload):
    samples = getattr(self, "raw_samples", None) or getattr(self, "samples", None) or []
    if isinstance(payload, bool) or not isinstance(payload, int) or not 0 <= payload < len(samples):
        raise refused(f"Choose one of the {len(samples)} examples (an index from 0 to {len(samples) - 1}), "
                       f"got {shown(payload)}.")
    return type(self).__base__.preprocess(self, payload)


def _choice(component, payload) -> None:
    """gr.Error (with the value cut short) unless every value of `payload` is one of the component's choices;
    a list only where the component takes several (a multiselect Dropdown)."""
    values = [value for _, value in component.choices]
    label = component.label or "This field"
    if isinstance(payload, list) and not getattr(component, "multiselect", False):
        raise refused(f"{label} takes one choice, got a list.")
    for value in payload if isinstance(payload, list) else [payload]:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value not in values:
            listed = ", ".join(shown(v, 40) for v in values[:12]) + (", …" if len(values) > 12 else "")
            raise refused(f"{label}: {shown(value)} is not in the list of choices ({listed or 'none yet'}).")


def _dropdown_preprocess(self, payload):
    if isinstance(payload, list) and not self.multiselect:
        raise refused(f"{self.label or 'This field'} takes one choice, got a list.")
    if payload is not None and not self.allow_custom_value:
        _choice(self, payload)
    return type(self).__base__.preprocess(self, payload)


def _radio_preprocess(self, payload):
    if payload is not None:
        _choice(self, payload)
    return type(self).__base__.preprocess(self, payload)


def _checked(base: type, preprocess, doc: str) -> type:
    """`base` with `preprocess` run first; shown and documented as `base` (is_template).

    Made with ABCMeta.__new__ rather than a class statement: Gradio's ComponentMeta would write a `.pyi`
    stub next to this file for every subclass, and these add no events or constructor arguments."""
    attrs = {"preprocess": preprocess, "is_template": True, "__doc__": doc, "__module__": __name__,
             "__qualname__": base.__name__}
    return ABCMeta.__new__(type(base), base.__name__, (base,), attrs)


Number = _checked(gr.Number, _number_preprocess, "gr.Number; NaN, infinity and text get a gr.Error.")
Slider = _checked(gr.Slider, _slider_preprocess, "gr.Slider; NaN, infinity, text and blank get a gr.Error.")
Dataset = _checked(gr.Dataset, _dataset_preprocess, "gr.Dataset (examples); an index it lacks gets a gr.Error.")
Dropdown = _checked(gr.Dropdown, _dropdown_preprocess, "gr.Dropdown; an unlisted value gets one short line.")
Radio = _checked(gr.Radio, _radio_preprocess, "gr.Radio; an unlisted value gets one short line.")
Textbox = _checked(gr.Textbox, _textbox_preprocess, "gr.Textbox; a value that is not text gets one short line.")
CHECKED = {gr.Number: Number, gr.Slider: Slider, gr.Dataset: Dataset, gr.Dropdown: Dropdown, gr.Radio: Radio,
           gr.Textbox: Textbox}


def check_fields(demo: gr.Blocks) -> int:
    """Make every plain gr.Number, gr.Slider, gr.Dataset, gr.Dropdown, gr.Radio and gr.Textbox of `demo` the
    checked class above (the same component otherwise), so no tab answers a bad API value with a blank or a 1 MB
    error; returns how many changed. A component updated by an event keeps its class, so it stays checked."""
    swapped = 0
    for block in demo.blocks.values():
        checked = CHECKED.get(type(block))
        if checked is not None:
            block.__class__ = checked
            swapped += 1
    return swapped
