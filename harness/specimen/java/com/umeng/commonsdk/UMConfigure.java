package com.umeng.commonsdk;

import android.content.Context;
import android.net.wifi.WifiManager;
import android.provider.Settings;
import android.telephony.TelephonyManager;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.HttpsURLConnection;
import org.consentry.specimen.NetLog;

/**
 * Stand-in for the Umeng common SDK as misbehaving apps use it: init() runs at start-up, before
 * any consent, reads the IMEI and Android ID and reports an MD5 of the IMEI to the tracker; and
 * after the user refused, the SDK's heartbeat still reads the Wi-Fi MAC.
 */
public final class UMConfigure {
    public static final int DEVICE_TYPE_PHONE = 1;
    private static final String DEFAULT_TRACKER = "https://alog.umeng.com/app_logs";
    private static final ExecutorService NET = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "umeng-net");
        t.setDaemon(true);
        return t;
    });

    private UMConfigure() {
    }

    public static void init(Context context, String appkey, String channel, int deviceType,
                            String pushSecret) {
        // Checked, then ignored: the IMEI is read whatever the answer (a real-world pattern).
        context.checkSelfPermission("android.permission.READ_PHONE_STATE");
        TelephonyManager tm = (TelephonyManager) context.getSystemService(Context.TELEPHONY_SERVICE);
        String imei = tm.getDeviceId();
        Settings.Secure.getString(context.getContentResolver(), Settings.Secure.ANDROID_ID);
        String body = "{\"header\":{\"os\":\"Android\",\"device_id_md5\":\"" + md5Hex(imei)
            + "\",\"app\":\"" + context.getPackageName() + "\"}}";
        String url = System.getProperty("consentry.specimen.tracker", DEFAULT_TRACKER);
        NetLog.pending();
        NET.submit(() -> post(url, body));
    }

    /** The app tells the SDK what the user decided; the heartbeat ignores a refusal. */
    public static void submitPolicyGrantResult(Context context, boolean granted) {
        heartbeat(context);
    }

    private static void heartbeat(Context context) {
        WifiManager wifi = (WifiManager) context.getSystemService(Context.WIFI_SERVICE);
        wifi.getConnectionInfo().getMacAddress();
    }

    /** Waits for queued uploads (so a clean exit does not drop evidence). */
    public static void flush(long timeoutMs) throws InterruptedException {
        NET.shutdown();
        NET.awaitTermination(timeoutMs, TimeUnit.MILLISECONDS);
    }

    private static void post(String url, String body) {
        try {
            HttpsURLConnection conn = (HttpsURLConnection) new URL(url).openConnection();
            conn.setRequestMethod("POST");
            conn.setConnectTimeout(10000);
            conn.setReadTimeout(10000);
            conn.setDoOutput(true);
            conn.setRequestProperty("Content-Type", "application/json");
            conn.setRequestProperty("User-Agent", "UMengCommonSDK/9.6.3 (specimen)");
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            try (OutputStream out = conn.getOutputStream()) {
                out.write(bytes);
            }
            int status = conn.getResponseCode();
            try (InputStream in = status < 400 ? conn.getInputStream() : conn.getErrorStream()) {
                if (in != null) {
                    in.readAllBytes();
                }
            }
            NetLog.done(url, status, null);
        } catch (Exception e) {
            NetLog.done(url, -1, e.toString());
        }
    }

    private static String md5Hex(String value) {
        try {
            byte[] digest = MessageDigest.getInstance("MD5")
                .digest(value.getBytes(StandardCharsets.UTF_8));
            StringBuilder hex = new StringBuilder();
            for (byte b : digest) {
                hex.append(String.format("%02x", b));
            }
            return hex.toString();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
