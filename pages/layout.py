"""What every page's layout shares: the CSS and head script (given to `launch`, where Gradio 6 takes them).

    demo.launch(**launch_options())     # app.py, and the tests' launch_app

(The annotator page, `/annotate`, is a page of its own built on the server: pages/annotate_page.py.)

CSS: clip grids stay compact (about four clips a row on a desktop, three on a phone, each clip at most a third
of the screen high), so a whole set is judged at a glance; the vote and submit bars stick to the bottom of the
screen; the tab bar wraps instead of hiding tabs behind a menu. The head script marks the status lines
(`elem_classes=["dpp-live"]`) as polite live regions, so a screen reader reads what a run is doing.
"""

from __future__ import annotations

from urllib.parse import quote

ANNOTATOR_PAGE = "annotate"  # the annotator page's address under the app's (pages/annotate_page.py)

CSS = """
/* gradio's container hides overflow, which makes it the scroll box that sticky bars stick to; clip keeps the cut
   without making a scroll box, so the bars stick to the screen. */
.gradio-container { overflow: clip !important; }
.study-clips, .dpp-grid { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)) !important; gap: 8px !important; }
#study-pair .study-clips { grid-template-columns: repeat(auto-fill, minmax(110px, 1fr)) !important; }
.study-clips video, .dpp-grid video { max-height: 30vh; object-fit: contain; }
.study-clips figcaption, .dpp-grid figcaption { font-size: 0.85em; line-height: 1.25; }
.dpp-sticky { position: sticky; bottom: 0; z-index: 20; background: var(--background-fill-primary);
  border-top: 1px solid var(--border-color-primary); padding: 6px 8px !important; box-shadow: 0 -4px 12px rgba(0,0,0,.08); }
.dpp-sticky fieldset { padding: 0 !important; }
.dpp-sticky label { padding-top: 3px !important; padding-bottom: 3px !important; }
@media (max-width: 640px) {
  .study-clips, .dpp-grid, #study-pair .study-clips { grid-template-columns: repeat(3, minmax(0, 1fr)) !important; gap: 4px !important; }
  .study-clips figcaption, .dpp-grid figcaption { font-size: 0.7em; }
  .study-clips video, .dpp-grid video { max-height: 22vh; }
  #study-pair > .row, #study-pair .row { flex-wrap: wrap; }
  .dpp-sticky label span { font-size: 0.85em; }
}
"""

HEAD = """<script>
(() => {
  // Gradio puts a component's classes on its wrapper and on inner parts: mark the outermost only.
  const mark = () => document.querySelectorAll('.dpp-live:not([aria-live])').forEach(e => {
    if (e.parentElement && e.parentElement.closest('.dpp-live')) return;
    e.setAttribute('role', 'status'); e.setAttribute('aria-live', 'polite');
  });
  new MutationObserver(mark).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener('DOMContentLoaded', mark);
})();
</script>"""


def launch_options() -> dict:
    """The `launch` arguments that style the page (Gradio 6 takes CSS and head there, not in `Blocks`)."""
    return {"css": CSS, "head": HEAD}


def annotator_link(annotator: str) -> str:
    """The annotator page's address for one annotator, relative to the app's main page (a Markdown link target).

    >>> annotator_link("ann 07")
    'annotate?annotator=ann%2007'
    """
    return f"{ANNOTATOR_PAGE}?annotator={quote(annotator, safe='')}"
