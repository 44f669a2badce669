package org.consentry.specimen;

/** Outcome of the SDKs' uploads, reported by /health so a lost upload is visible, not silent. */
public final class NetLog {
    private static int pending;
    private static int ok;
    private static int failed;
    private static String lastError;

    private NetLog() {
    }

    public static synchronized void pending() {
        pending++;
    }

    public static synchronized void done(String url, int status, String error) {
        pending--;
        if (error == null && status >= 200 && status < 400) {
            ok++;
        } else {
            failed++;
            lastError = error != null ? error : "HTTP " + status + " from " + url;
            System.err.println("specimen: upload to " + url + " failed: " + lastError);
        }
    }

    static synchronized String toJson() {
        return "{\"pending\":" + pending + ",\"ok\":" + ok + ",\"failed\":" + failed
            + ",\"last_error\":" + Json.str(lastError) + "}";
    }
}
