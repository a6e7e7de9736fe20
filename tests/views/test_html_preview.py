"""The description's rendered, sanitized preview beside its HTML in the dataset form."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.views.dataset_form import DatasetForm
from app.views.qt import QtCore, QtGui
from app.views.tasks import TaskRunner
from tests.conftest import make_record

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")


def test_the_preview_renders_as_typed_without_scripts_handlers_or_javascript_links(
    qtbot: QtBot, database: Database
) -> None:
    tasks = TaskRunner()
    form = DatasetForm(database, tasks)
    qtbot.addWidget(form)
    preview = form.description_preview
    with qtbot.waitSignal(preview.rendered):
        form.load(make_record(id="abc12", description="<p>Requests <b>by month</b></p>"))
        form.show()
    assert "by month" in preview.browser.toPlainText()
    assert preview.browser.isVisible() and preview.source.isVisible()

    # Typing: the preview follows once the typing pauses, sanitized.
    edit = form.description_edit
    edit.clear()
    edit.setFocus()
    typed = (
        '<p onclick="steal()">Hello</p><script>document.title = "owned"</script>'
        '<a href="javascript:steal()">link</a>'
    )
    with qtbot.waitSignal(preview.rendered) as shown:
        qtbot.keyClicks(edit, typed)
    assert shown.args is not None
    safe = shown.args[0]
    assert "onclick" not in safe and "script" not in safe and "javascript" not in safe
    assert preview.browser.toPlainText().split() == ["Hello", "link"]
    assert "steal" not in preview.browser.toHtml() and "owned" not in preview.browser.toHtml()
    assert form.record()["description"] == typed  # the source is saved as typed

    # A link in the preview, clicked, is not followed: it is only reported.
    assert not preview.browser.openLinks() and not preview.browser.openExternalLinks()
    with qtbot.waitSignal(preview.rendered):
        edit.setPlainText('<p>See <a href="https://example.org/">the site</a></p>')
    found = preview.browser.document().find("the site")
    inside = QtGui.QTextCursor(preview.browser.document())
    inside.setPosition(found.selectionStart() + 2)
    point = preview.browser.cursorRect(inside).center()
    with qtbot.waitSignal(preview.linkClicked) as clicked:
        qtbot.mouseClick(preview.browser.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=point)
    assert clicked.args == [QtCore.QUrl("https://example.org/")]
    assert preview.browser.source().isEmpty()  # still the description, not the site
    assert preview.browser.toPlainText() == "See the site"
    assert tasks.wait_for_all(10000)
