package android.location;

/** Stub of android.location.LocationListener. */
public interface LocationListener {
    void onLocationChanged(Location location);
}
