package android.content;

/** Stub of android.content.ClipboardManager with a planted canary on the clipboard. */
public class ClipboardManager {
    public ClipData getPrimaryClip() {
        return new ClipData("consentry-clipboard-canary");
    }
}
