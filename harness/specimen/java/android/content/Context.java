package android.content;

/** Stub of android.content.Context: the few members the specimen uses. */
public abstract class Context {
    public static final String TELEPHONY_SERVICE = "phone";
    public static final String LOCATION_SERVICE = "location";
    public static final String CLIPBOARD_SERVICE = "clipboard";
    public static final String WIFI_SERVICE = "wifi";

    public abstract int checkSelfPermission(String permission);

    public abstract int checkPermission(String permission, int pid, int uid);

    public abstract ContentResolver getContentResolver();

    public abstract Object getSystemService(String name);

    public abstract android.content.pm.PackageManager getPackageManager();

    public abstract String getPackageName();
}
