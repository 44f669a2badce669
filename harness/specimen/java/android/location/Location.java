package android.location;

/** Stub of android.location.Location: one fixed GPS fix. */
public class Location {
    private final String provider;
    private final double latitude;
    private final double longitude;

    public Location(String provider, double latitude, double longitude) {
        this.provider = provider;
        this.latitude = latitude;
        this.longitude = longitude;
    }

    public double getLatitude() {
        return latitude;
    }

    public double getLongitude() {
        return longitude;
    }

    @Override
    public String toString() {
        return "Location[" + provider + " " + latitude + "," + longitude + " hAcc=5.0 et=0]";
    }
}
