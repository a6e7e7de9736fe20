"""The description's HTML source with its rendered preview beside it (the form's Content tab).

The preview shows what services.html_sanitize keeps, never the source as typed: no script,
iframe, event handler or `javascript:` link is ever rendered. It follows the typing after a
short pause (DEBOUNCE_MS), not at each key. Links are not followed: clicking one only emits
`linkClicked`, and the browser loads no resource (image, stylesheet) from anywhere.
"""

from __future__ import annotations

from typing import Any

from app.services.html_sanitize import sanitize_html
from app.views.qt import QtCore, QtWidgets, Signal

DEBOUNCE_MS = 250


class _Browser(QtWidgets.QTextBrowser):
    def loadResource(self, kind: int, name: QtCore.QUrl | str) -> Any:
        return None  # nothing is fetched, not even a local file an <img> would name


class HtmlPreview(QtWidgets.QSplitter):
    """`source` (a plain-text editor of HTML) on the left, its sanitized rendering on the right."""

    rendered = Signal(str)  # the sanitized HTML now shown
    linkClicked = Signal(QtCore.QUrl)  # a link in the preview was clicked (not followed)

    def __init__(self, source: QtWidgets.QPlainTextEdit, parent: QtWidgets.QWidget | None = None):
        super().__init__(QtCore.Qt.Orientation.Horizontal, parent)
        self.source = source
        self.browser = _Browser()
        self.browser.setObjectName("descriptionPreview")
        self.browser.setOpenLinks(False)
        self.browser.setOpenExternalLinks(False)
        self.browser.setPlaceholderText("The description as it will look")
        self.browser.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)  # Tab skips it
        self.browser.anchorClicked.connect(self.linkClicked.emit)
        self.addWidget(source)
        self.addWidget(self.browser)
        self.setChildrenCollapsible(False)
        self.setSizes([1, 1])
        self._timer = QtCore.QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.render_now)
        source.textChanged.connect(self._timer.start)

    def render_now(self) -> None:
        self._timer.stop()
        safe = sanitize_html(self.source.toPlainText())
        self.browser.setHtml(safe)
        self.rendered.emit(safe)
