package com.adjust.sdk;

import android.content.Context;
import android.provider.Settings;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import javax.net.ssl.HttpsURLConnection;
import org.consentry.specimen.NetLog;

/**
 * Stand-in for the Adjust attribution SDK: at start-up, before any consent, it reads the
 * Android ID and reports it in a nested encoding seen in real attribution traffic: a form
 * field {@code data=} holding base64 of JSON {@code {"device":{"aid": SHA-256, upper-case
 * hex}}}. A plain search of the request finds nothing; only decoding layer by layer does.
 */
public final class Adjust {
    static final String SESSION_URL = "https://app.adjust.com/session";
    static final String APP_TOKEN = "2fm9gkqubvpc";

    private Adjust() {
    }

    /** Called where the app starts its SDKs. The upload runs on its own (non-daemon) thread,
     *  so the JVM does not end before the request is answered. */
    public static void onCreate(Context context) {
        String androidId = Settings.Secure.getString(context.getContentResolver(),
            Settings.Secure.ANDROID_ID);
        String json = "{\"device\":{\"aid\":\"" + sha256Upper(androidId) + "\",\"os\":\"android\"},"
            + "\"app\":\"" + context.getPackageName() + "\"}";
        String data = Base64.getEncoder().encodeToString(json.getBytes(StandardCharsets.UTF_8));
        String form = "app_token=" + APP_TOKEN + "&environment=production&data="
            + URLEncoder.encode(data, StandardCharsets.UTF_8);
        NetLog.pending();
        Thread upload = new Thread(() -> post(SESSION_URL, form), "adjust-net");
        upload.start();
    }

    private static void post(String url, String form) {
        try {
            HttpsURLConnection conn = (HttpsURLConnection) new URL(url).openConnection();
            conn.setRequestMethod("POST");
            conn.setConnectTimeout(10000);
            conn.setReadTimeout(10000);
            conn.setDoOutput(true);
            conn.setRequestProperty("Content-Type", "application/x-www-form-urlencoded");
            conn.setRequestProperty("Client-SDK", "android4.38.0");
            try (OutputStream out = conn.getOutputStream()) {
                out.write(form.getBytes(StandardCharsets.UTF_8));
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

    private static String sha256Upper(String value) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                .digest(value.getBytes(StandardCharsets.UTF_8));
            StringBuilder hex = new StringBuilder();
            for (byte b : digest) {
                hex.append(String.format("%02X", b));
            }
            return hex.toString();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
