package android.app;

import android.content.ContentResolver;
import android.content.Context;
import android.content.pm.PackageManager;

/** Stub of android.app.Activity: a Context that delegates to its ContextImpl, plus lifecycle. */
public class Activity extends Context {
    private final ContextImpl base;

    public Activity(ContextImpl base) {
        this.base = base;
    }

    public void requestPermissions(String[] permissions, int requestCode) {
        if (showPermissionDialog(permissions, requestCode)) {
            return; // answered later through finishPermissionRequest, like the real dialog
        }
        finishPermissionRequest(permissions, requestCode, true);
    }

    /**
     * Show the system's permission dialog; false (the default) means no dialog is drawn and
     * the "user" allows at once, as the specimen always did.
     */
    protected boolean showPermissionDialog(String[] permissions, int requestCode) {
        return false;
    }

    /** The user's answer to the permission dialog: grant (or not) and report the result. */
    protected void finishPermissionRequest(String[] permissions, int requestCode,
            boolean granted) {
        int[] results = new int[permissions.length];
        for (int i = 0; i < permissions.length; i++) {
            if (granted) {
                ContextImpl.grant(permissions[i]);
            }
            results[i] = granted ? PackageManager.PERMISSION_GRANTED
                : PackageManager.PERMISSION_DENIED;
        }
        onRequestPermissionsResult(requestCode, permissions, results);
    }

    public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] results) {
    }

    protected void onResume() {
    }

    protected void onPause() {
    }

    @Override
    public int checkSelfPermission(String permission) {
        return base.checkSelfPermission(permission);
    }

    @Override
    public int checkPermission(String permission, int pid, int uid) {
        return base.checkPermission(permission, pid, uid);
    }

    @Override
    public ContentResolver getContentResolver() {
        return base.getContentResolver();
    }

    @Override
    public Object getSystemService(String name) {
        return base.getSystemService(name);
    }

    @Override
    public PackageManager getPackageManager() {
        return base.getPackageManager();
    }

    @Override
    public String getPackageName() {
        return base.getPackageName();
    }
}
