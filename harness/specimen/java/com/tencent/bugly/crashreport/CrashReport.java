package com.tencent.bugly.crashreport;

import android.content.Context;
import android.telephony.TelephonyManager;

/** Stand-in for Tencent Bugly: initialised only after consent; reads the SIM serial (ICCID). */
public final class CrashReport {
    private CrashReport() {
    }

    public static void initCrashReport(Context context, String appId, boolean isDebug) {
        TelephonyManager tm = (TelephonyManager) context.getSystemService(Context.TELEPHONY_SERVICE);
        tm.getSimSerialNumber();
    }
}
