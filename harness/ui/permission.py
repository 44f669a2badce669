"""Android runtime-permission dialogs ("Allow X to access this device's location?").

They are drawn by the permission controller (AOSP, Google, or a vendor's security app), never by
the app, so they are not consent dialogs; scenarios still need their allow / deny buttons.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.ui.hierarchy import Hierarchy, Node
from harness.ui.keywords import Keywords, default_keywords, normalize
from harness.ui.tappable import Control, Tree, tap_target


@dataclass(frozen=True)
class PermissionPrompt:
    """The buttons of a runtime-permission dialog."""

    package: str
    """The package that draws the dialog (e.g. ``com.google.android.permissioncontroller``)."""
    message: str
    """The question the dialog asks, "" when it has no message view."""
    allow: Control | None
    """The first allow button ("While using the app" on Android 11+, else "Allow")."""
    deny: Control | None
    """The first deny button ("Don't allow", 拒绝)."""


def _id_name(resource_id: str) -> str:
    return resource_id.rsplit(":id/", 1)[-1]


def _control(tree: Tree, node: Node) -> Control:
    target = tap_target(tree, node) or node
    return Control(text=node.label.strip(), resource_id=node.resource_id or target.resource_id,
                   bounds=target.bounds)


def is_permission_dialog(hierarchy: Hierarchy,
                         keywords: Keywords | None = None) -> PermissionPrompt | None:
    """The allow / deny controls when the screen shows a runtime-permission dialog, else None.

    Recognised by the permission button ids (any package, since vendors copy the AOSP ids) or,
    for vendor builds with their own ids, by the dialog's package plus allow / deny labels.
    """
    words = (keywords or default_keywords()).permission
    tree = Tree(hierarchy)
    allow: Node | None = None
    deny: Node | None = None
    package = ""
    message = ""
    for node in hierarchy.nodes():
        name = _id_name(node.resource_id) if node.resource_id else ""
        in_controller = node.package in words.packages
        label = normalize(node.label)
        if name == "permission_message":
            message = node.label.strip()
        if allow is None and (name in words.allow_ids
                              or (in_controller and label in words.allow_texts)):
            allow, package = node, node.package
        elif deny is None and (name in words.deny_ids
                               or (in_controller and label in words.deny_texts)):
            deny, package = node, node.package
    if allow is None and deny is None:
        return None
    return PermissionPrompt(
        package=package,
        message=message,
        allow=_control(tree, allow) if allow is not None else None,
        deny=_control(tree, deny) if deny is not None else None,
    )
