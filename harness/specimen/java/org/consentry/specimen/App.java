package org.consentry.specimen;

import com.umeng.commonsdk.UMConfigure;
import java.nio.file.Path;
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
    enum Screen { DIALOG, NOTICE, HOME }

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
        switch (screen) {
            case DIALOG: return Screens.privacyDialog();
            case NOTICE: return Screens.notice(noticeChecked);
            default: return Screens.home(limited);
        }
    }

    String screenName() {
        if (!foreground || screen == null) {
            return "launcher";
        }
        return screen == Screen.DIALOG ? "privacy_dialog" : screen.name().toLowerCase();
    }

    String foregroundPackage() {
        return foreground ? Screens.PKG : Screens.LAUNCHER_PKG;
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
                activity.onConsentRejected();
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
                // The consent screens cannot be dismissed; back on home leaves the app.
                if (screen == Screen.HOME) {
                    background();
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
