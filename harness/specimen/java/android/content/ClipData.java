package android.content;

/** Stub of android.content.ClipData holding one plain-text item. */
public class ClipData {
    private final String text;

    public ClipData(String text) {
        this.text = text;
    }

    public String getText() {
        return text;
    }

    @Override
    public String toString() {
        return "ClipData { text/plain {T:" + text + "} }";
    }
}
