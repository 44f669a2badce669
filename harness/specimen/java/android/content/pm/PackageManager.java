package android.content.pm;

/** Stub of android.content.pm.PackageManager. */
public abstract class PackageManager {
    public static final int PERMISSION_GRANTED = 0;
    public static final int PERMISSION_DENIED = -1;

    public abstract java.util.List<PackageInfo> getInstalledPackages(int flags);

    public abstract java.util.List<ApplicationInfo> getInstalledApplications(int flags);
}
