package org.consentry.specimen;

import java.util.ArrayList;
import java.util.List;

/** One view of a specimen screen, written out exactly as uiautomator's dump_hierarchy() does. */
final class Node {
    final String text;
    final String id;
    final String cls;
    final String pkg;
    final int[] bounds;
    String desc = "";
    boolean clickable;
    boolean checkable;
    boolean checked;
    boolean scrollable;
    /** What a click on this node does (see App.perform); null for inert views. */
    String action;
    final List<Node> children = new ArrayList<>();

    Node(String cls, String pkg, String text, String id, int x1, int y1, int x2, int y2) {
        this.cls = cls;
        this.pkg = pkg;
        this.text = text;
        this.id = id.isEmpty() || id.contains(":") ? id : pkg + ":id/" + id;
        this.bounds = new int[] {x1, y1, x2, y2};
    }

    Node add(Node child) {
        children.add(child);
        return child;
    }

    Node clickable(String action) {
        this.clickable = true;
        this.action = action;
        return this;
    }

    boolean contains(int x, int y) {
        return x >= bounds[0] && x < bounds[2] && y >= bounds[1] && y < bounds[3];
    }

    /** The topmost clickable node under (x, y): later siblings and children draw on top. */
    Node hit(int x, int y) {
        if (!contains(x, y)) {
            return null;
        }
        for (int i = children.size() - 1; i >= 0; i--) {
            Node found = children.get(i).hit(x, y);
            if (found != null) {
                return found;
            }
        }
        return clickable ? this : null;
    }

    String toXml() {
        StringBuilder out = new StringBuilder(
            "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><hierarchy rotation=\"0\">");
        write(out, 0, 0);
        return out.append("</hierarchy>").toString();
    }

    private void write(StringBuilder out, int index, int order) {
        out.append("<node index=\"").append(index).append('"');
        attr(out, "text", text);
        attr(out, "resource-id", id);
        attr(out, "class", cls);
        attr(out, "package", pkg);
        attr(out, "content-desc", desc);
        attr(out, "checkable", checkable);
        attr(out, "checked", checked);
        attr(out, "clickable", clickable);
        attr(out, "enabled", true);
        attr(out, "focusable", clickable || checkable);
        attr(out, "focused", false);
        attr(out, "scrollable", scrollable);
        attr(out, "long-clickable", false);
        attr(out, "password", false);
        attr(out, "selected", false);
        attr(out, "visible-to-user", true);
        attr(out, "bounds", "[" + bounds[0] + "," + bounds[1] + "][" + bounds[2] + "," + bounds[3] + "]");
        attr(out, "drawing-order", String.valueOf(order));
        attr(out, "hint", "");
        attr(out, "display-id", "0");
        if (children.isEmpty()) {
            out.append(" />");
            return;
        }
        out.append('>');
        for (int i = 0; i < children.size(); i++) {
            children.get(i).write(out, i, i + 1);
        }
        out.append("</node>");
    }

    private static void attr(StringBuilder out, String name, boolean value) {
        attr(out, name, String.valueOf(value));
    }

    private static void attr(StringBuilder out, String name, String value) {
        out.append(' ').append(name).append("=\"");
        for (char c : value.toCharArray()) {
            switch (c) {
                case '&': out.append("&amp;"); break;
                case '<': out.append("&lt;"); break;
                case '>': out.append("&gt;"); break;
                case '"': out.append("&quot;"); break;
                case '\n': out.append("&#10;"); break;
                default: out.append(c);
            }
        }
        out.append('"');
    }
}
