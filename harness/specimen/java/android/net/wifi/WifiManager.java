package android.net.wifi;

/** Stub of android.net.wifi.WifiManager. */
public class WifiManager {
    public WifiInfo getConnectionInfo() {
        return new WifiInfo();
    }
}
