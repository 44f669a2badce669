package org.consentry.specimen;

import android.app.Activity;
import android.app.ContextImpl;
import android.content.ClipboardManager;
import android.content.Context;
import android.location.LocationManager;
import com.tencent.bugly.crashreport.CrashReport;
import com.umeng.commonsdk.UMConfigure;

/** The first party: what the app itself does before and after the user's answer. */
public class MainActivity extends Activity {
    static final String FINE_LOCATION = "android.permission.ACCESS_FINE_LOCATION";
    private final App app;
    private boolean started;
    private boolean fullMode;

    MainActivity(App app) {
        super(new ContextImpl(Screens.PKG));
        this.app = app;
    }

    @Override
    protected void onResume() {
        super.onResume();
        if (!started) {
            started = true;
            onFirstResume();
        } else if (asksPermissions() && fullMode && !app.permissionPending()
                && checkSelfPermission(FINE_LOCATION) != 0) {
            // Like many apps: every return to the foreground asks again after a denial.
            requestPermissions(new String[] {FINE_LOCATION}, 2);
        }
    }

    private boolean asksPermissions() {
        return app.variant().equals("permissions");
    }

    @Override
    protected boolean showPermissionDialog(String[] permissions, int requestCode) {
        if (!asksPermissions()) {
            return false;
        }
        app.showPermissionDialog(permissions, requestCode);
        return true;
    }

    void onPermissionAnswer(String[] permissions, int requestCode, boolean granted) {
        finishPermissionRequest(permissions, requestCode, granted);
    }

    /** The 口令 screen: the first party looks for a share code on the clipboard. */
    void onOpenCode() {
        ClipboardManager cm = (ClipboardManager) getSystemService(Context.CLIPBOARD_SERVICE);
        cm.getPrimaryClip();
    }

    @Override
    protected void onPause() {
        super.onPause();
    }

    private void onFirstResume() {
        // The violation under test: the SDK is initialised before the user has answered.
        UMConfigure.init(this, "5f0c1a2b3c4d5e6f7a8b9c0d", "specimen",
            UMConfigure.DEVICE_TYPE_PHONE, null);
        com.adjust.sdk.Adjust.onCreate(this);
        if ("accept".equals(app.storedConsent())) {
            enterFullMode();
        } else {
            app.showConsentScreen();
        }
    }

    void onConsentAccepted() {
        app.storeConsent("accept");
        enterFullMode();
    }

    void onConsentRejected() {
        app.storeConsent("reject");
        app.showHome(true);
        // Telling the SDK about the refusal does not stop its heartbeat from reading the MAC.
        UMConfigure.submitPolicyGrantResult(this, false);
    }

    /** 退出 on the second layer: the refusal is stored and the app ends its process. */
    void onConsentRejectedExit() {
        app.storeConsent("reject");
        app.exitProcess();
    }

    private void enterFullMode() {
        fullMode = true;
        if (checkSelfPermission(FINE_LOCATION) != 0) {
            requestPermissions(new String[] {FINE_LOCATION}, 1);
        }
        LocationManager lm = (LocationManager) getSystemService(Context.LOCATION_SERVICE);
        lm.getLastKnownLocation("gps");
        lm.requestLocationUpdates("gps", 60000L, 0f, location -> { });
        CrashReport.initCrashReport(this, "a1b2c3d4e5", false);
        app.showHome(false);
    }
}
