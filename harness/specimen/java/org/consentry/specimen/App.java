package org.consentry.specimen;

import com.umeng.commonsdk.UMConfigure;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The app process: gate, screens, foreground state. Every change runs on the single "main"
 * thread (like Android's main looper), never on the control channel's HTTP thread; control
 * requests wait for the task, so a click returns after the reads it caused were made.
 */
final class App {
    enum Screen { DIALOG, NOTICE, SECOND_LAYER, HOME, SCAN, PROFILE, SETTINGS, CODE }

    /**
     * default: dialog with 同意 / 不同意; notice: pre-ticked box and 我知道了; second-layer:
     * 不同意 opens a "you must agree" layer (仍不同意 / 退出 / 再想想); permissions: the first
     * party's location request shows a runtime-permission dialog instead of being granted.
     */
    static final List<String> VARIANTS = List.of("default", "notice", "second-layer",
        "permissions");

    /** A state problem the control channel reports as HTTP 409. */
    static final class StateError extends RuntimeException {
        StateError(String message) {
            super(message);
        }
    }

    private final ExecutorService main = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "main");
        t.setDaemon(true);
        return t;
    });
    private final String variant;
    private final ConsentStore consent;
    private final MainActivity activity;
    private boolean gated = true;
    private boolean foreground;
    private Screen screen;
    private boolean limited;
    private boolean noticeChecked = true;
    /** A runtime-permission dialog drawn over the app, or null. */
    private PermissionRequest permission;

    /** The pending Activity.requestPermissions call the dialog answers. */
    static final class PermissionRequest {
        final String[] permissions;
        final int code;

        PermissionRequest(String[] permissions, int code) {
            this.permissions = permissions;
            this.code = code;
        }
    }

    App(String variant, Path dataDir) {
        this.variant = variant;
        this.consent = new ConsentStore(dataDir);
        this.activity = new MainActivity(this);
    }

    <T> T call(Callable<T> task) throws Exception {
        try {
            return main.submit(task).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof Exception ? (Exception) cause : new RuntimeException(cause);
        }
    }

    // --- called by the first party (on the main thread) ---

    String storedConsent() {
        return consent.load();
    }

    void storeConsent(String answer) {
        consent.save(answer);
    }

    void showConsentScreen() {
        screen = variant.equals("notice") ? Screen.NOTICE : Screen.DIALOG;
    }

    void showHome(boolean limitedMode) {
        screen = Screen.HOME;
        limited = limitedMode;
    }

    String variant() {
        return variant;
    }

    void showPermissionDialog(String[] permissions, int code) {
        permission = new PermissionRequest(permissions, code);
    }

    boolean permissionPending() {
        return permission != null;
    }

    /**
     * Like finish() then Process.killProcess(Process.myPid()) on Android: SIGKILL to itself
     * once the click is answered. (A JVM exit with Frida's Java bridge attached can hang at
     * the exit safepoint; a kill is also what Android apps do.)
     */
    void exitProcess() {
        background();
        Thread exit = new Thread(() -> {
            try {
                Thread.sleep(300);
                System.out.println("specimen: killing itself after the user chose 退出");
                System.out.flush();
                // raise(SIGKILL) in-process: no child process (Frida's child gating would hold
                // a forked `kill`), no JVM exit path.
                sun.misc.Signal.raise(new sun.misc.Signal("KILL"));
            } catch (Exception e) {
                e.printStackTrace();
                Runtime.getRuntime().halt(1);
            }
        }, "exit");
        exit.setDaemon(true);
        exit.start();
    }

    // --- control-channel operations (run through call()) ---

    String resume() {
        if (!gated) {
            throw new StateError("already resumed");
        }
        gated = false;
        foreground = true;
        activity.onResume();
        return health();
    }

    Node current() {
        if (!foreground || screen == null) {
            return Screens.launcher();
        }
        if (permission != null) {
            return Screens.permissionDialog();
        }
        switch (screen) {
            case DIALOG: return Screens.privacyDialog();
            case NOTICE: return Screens.notice(noticeChecked);
            case SECOND_LAYER: return Screens.secondLayer();
            case SCAN: return Screens.scan();
            case PROFILE: return Screens.profile();
            case SETTINGS: return Screens.settings();
            case CODE: return Screens.code();
            default: return Screens.home(limited);
        }
    }

    String screenName() {
        if (!foreground || screen == null) {
            return "launcher";
        }
        if (permission != null) {
            return "permission_dialog";
        }
        return screen == Screen.DIALOG ? "privacy_dialog" : screen.name().toLowerCase();
    }

    String foregroundPackage() {
        if (!foreground) {
            return Screens.LAUNCHER_PKG;
        }
        // As on Android: the permission dialog is the controller's activity on top of the app.
        return permission != null ? Screens.PERMISSION_PKG : Screens.PKG;
    }

    String click(int x, int y) {
        Node hit = gated ? null : current().hit(x, y);
        if (hit != null) {
            perform(hit.action);
        }
        String what = hit == null ? "null"
            : "{\"text\":" + Json.str(hit.text) + ",\"resource-id\":" + Json.str(hit.id)
                + ",\"class\":" + Json.str(hit.cls) + ",\"action\":" + Json.str(hit.action) + "}";
        return "{\"hit\":" + what + ",\"screen\":" + Json.str(screenName()) + "}";
    }

    private void perform(String action) {
        switch (action) {
            case "agree":
            case "acknowledge":
                activity.onConsentAccepted();
                break;
            case "disagree":
                if (variant.equals("second-layer") && screen == Screen.DIALOG) {
                    screen = Screen.SECOND_LAYER;
                } else {
                    activity.onConsentRejected();
                }
                break;
            case "disagree-again":
                activity.onConsentRejected();
                break;
            case "exit":
                activity.onConsentRejectedExit();
                break;
            case "reconsider":
                screen = Screen.DIALOG;
                break;
            case "perm-allow":
            case "perm-deny": {
                PermissionRequest request = permission;
                permission = null;
                activity.onPermissionAnswer(request.permissions, request.code,
                    action.equals("perm-allow"));
                break;
            }
            case "open-scan":
                screen = Screen.SCAN;
                break;
            case "open-profile":
                screen = Screen.PROFILE;
                break;
            case "open-settings":
                screen = Screen.SETTINGS;
                break;
            case "open-code":
                screen = Screen.CODE;
                activity.onOpenCode();
                break;
            case "home":
            case "logout":
                screen = Screen.HOME;
                break;
            case "toggle":
                noticeChecked = !noticeChecked;
                break;
            case "launch":
                start();
                break;
            default:
                break; // policy link and home items: visible, clickable, no data access
        }
    }

    String press(String key) {
        switch (key) {
            case "home":
                background();
                break;
            case "back":
                // The consent and permission dialogs cannot be dismissed; back on home leaves
                // the app; back on a sub-screen goes up one level.
                if (permission != null) {
                    break;
                }
                if (screen == Screen.HOME) {
                    background();
                } else if (screen == Screen.SETTINGS) {
                    screen = Screen.PROFILE;
                } else if (screen == Screen.SCAN || screen == Screen.PROFILE
                        || screen == Screen.CODE) {
                    screen = Screen.HOME;
                }
                break;
            case "enter":
            case "menu":
            case "recent":
                break;
            default:
                throw new IllegalArgumentException(
                    "unknown key " + key + "; expected back, home, enter, menu or recent");
        }
        return "{\"key\":" + Json.str(key) + ",\"screen\":" + Json.str(screenName()) + "}";
    }

    private void background() {
        if (foreground && !gated) {
            foreground = false;
            activity.onPause();
        }
    }

    String start() {
        if (gated) {
            throw new StateError("the app is gated; POST /resume first");
        }
        if (!foreground) {
            foreground = true;
            activity.onResume();
        }
        return health();
    }

    String health() {
        String stored = consent.load();
        return "{\"state\":" + Json.str(gated ? "gated" : "running")
            + ",\"screen\":" + Json.str(screenName())
            + ",\"foreground\":" + Json.str(foregroundPackage())
            + ",\"consent\":" + Json.str(stored)
            + ",\"variant\":" + Json.str(variant)
            + ",\"pid\":" + ProcessHandle.current().pid()
            + ",\"uploads\":" + NetLog.toJson() + "}";
    }

    /** Leave cleanly: pause, let queued uploads finish, stop the main thread. */
    void shutdown() throws Exception {
        call(() -> {
            background();
            return null;
        });
        UMConfigure.flush(5000);
        main.shutdown();
    }
}
