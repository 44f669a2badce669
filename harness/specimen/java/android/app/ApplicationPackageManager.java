package android.app;

import android.content.pm.ApplicationInfo;
import android.content.pm.PackageInfo;
import android.content.pm.PackageManager;
import java.util.ArrayList;
import java.util.List;

/** Stub of android.app.ApplicationPackageManager: a fixed list of "installed" apps. */
public class ApplicationPackageManager extends PackageManager {
    static final String[] INSTALLED = {
        "com.tencent.mm", "com.eg.android.AlipayGphone", "com.taobao.taobao",
        "com.ss.android.ugc.aweme", "org.consentry.specimen",
    };

    @Override
    public List<PackageInfo> getInstalledPackages(int flags) {
        List<PackageInfo> out = new ArrayList<>();
        for (String name : INSTALLED) {
            out.add(new PackageInfo(name));
        }
        return out;
    }

    @Override
    public List<ApplicationInfo> getInstalledApplications(int flags) {
        List<ApplicationInfo> out = new ArrayList<>();
        for (String name : INSTALLED) {
            out.add(new ApplicationInfo(name));
        }
        return out;
    }
}
