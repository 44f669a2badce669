package android.content;

/** Stub of android.content.ContentResolver (only passed to Settings.Secure). */
public class ContentResolver {
}
