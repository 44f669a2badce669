package android.location;

/** Stub of android.location.LocationManager: always the same fix (Beijing, Tiananmen). */
public class LocationManager {
    static final double LATITUDE = 39.904211;
    static final double LONGITUDE = 116.407395;

    public Location getLastKnownLocation(String provider) {
        return new Location(provider, LATITUDE, LONGITUDE);
    }

    public void requestLocationUpdates(String provider, long minTimeMs, float minDistanceM,
                                       LocationListener listener) {
        listener.onLocationChanged(new Location(provider, LATITUDE, LONGITUDE));
    }
}
