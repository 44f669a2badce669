package android.net.wifi;

/** Stub of android.net.wifi.WifiInfo for the lab network. */
public class WifiInfo {
    public String getMacAddress() {
        return "3c:5a:b4:12:7e:9f";
    }

    public String getSSID() {
        return "\"consentry-lab\"";
    }

    public String getBSSID() {
        return "a4:2b:b0:c1:d2:e3";
    }
}
