package android.provider;

import android.content.ContentResolver;

/** Stub of android.provider.Settings; only Settings$Secure.getString is used. */
public final class Settings {
    private Settings() {
    }

    public static final class Secure {
        public static final String ANDROID_ID = "android_id";

        private Secure() {
        }

        public static String getString(ContentResolver resolver, String name) {
            switch (name) {
                case ANDROID_ID: return "5e3d9c7a1b2f4e60";
                case "bluetooth_name": return "Specimen Phone";
                case "bluetooth_address": return "3c:5a:b4:12:7e:a0";
                case "default_input_method":
                    return "com.android.inputmethod.latin/.LatinIME";
                default: return null;
            }
        }
    }
}
