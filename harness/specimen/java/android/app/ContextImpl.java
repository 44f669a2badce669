package android.app;

import android.content.ClipboardManager;
import android.content.ContentResolver;
import android.content.Context;
import android.content.pm.PackageManager;
import android.location.LocationManager;
import android.net.wifi.WifiManager;
import android.telephony.TelephonyManager;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** Stub of android.app.ContextImpl: permissions are denied until granted by requestPermissions. */
public class ContextImpl extends Context {
    private static final Set<String> GRANTED = ConcurrentHashMap.newKeySet();
    private final String packageName;
    private final ContentResolver resolver = new ContentResolver();

    public ContextImpl(String packageName) {
        this.packageName = packageName;
    }

    /** Called by Activity.requestPermissions (the "user" always allows). */
    static void grant(String permission) {
        GRANTED.add(permission);
    }

    @Override
    public int checkSelfPermission(String permission) {
        return checkPermission(permission, (int) ProcessHandle.current().pid(), 10123);
    }

    @Override
    public int checkPermission(String permission, int pid, int uid) {
        return GRANTED.contains(permission)
            ? PackageManager.PERMISSION_GRANTED : PackageManager.PERMISSION_DENIED;
    }

    @Override
    public ContentResolver getContentResolver() {
        return resolver;
    }

    @Override
    public Object getSystemService(String name) {
        switch (name) {
            case TELEPHONY_SERVICE: return new TelephonyManager();
            case LOCATION_SERVICE: return new LocationManager();
            case CLIPBOARD_SERVICE: return new ClipboardManager();
            case WIFI_SERVICE: return new WifiManager();
            default: return null;
        }
    }

    @Override
    public PackageManager getPackageManager() {
        return new ApplicationPackageManager();
    }

    @Override
    public String getPackageName() {
        return packageName;
    }
}
