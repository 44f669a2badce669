package org.consentry.specimen;

import java.nio.file.Path;

/**
 * Entry point. Starts the control channel and waits GATED: no app code runs until the harness
 * POSTs /resume (Frida attaches in between, since Java is not available at spawn on HotSpot).
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) throws Exception {
        int port = 0;
        Path dataDir = Path.of("specimen-data");
        String variant = "default";
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (i + 1 >= args.length) {
                usage("missing value after " + arg);
            }
            String value = args[++i];
            switch (arg) {
                case "--control-port":
                    port = Integer.parseInt(value);
                    break;
                case "--data-dir":
                    dataDir = Path.of(value);
                    break;
                case "--variant":
                    if (!App.VARIANTS.contains(value)) {
                        usage("unknown variant " + value + "; expected one of " + App.VARIANTS);
                    }
                    variant = value;
                    break;
                default:
                    usage("unknown option " + arg);
            }
        }
        App app = new App(variant, dataDir);
        ControlServer server = new ControlServer(app, port);
        server.start();
        System.out.println("CONSENTRY-CONTROL 127.0.0.1:" + server.port());
        System.out.flush();
    }

    private static void usage(String problem) {
        System.err.println("specimen: " + problem + "\nusage: java org.consentry.specimen.Main"
            + " [--control-port N] [--data-dir DIR] [--variant "
            + String.join("|", App.VARIANTS) + "]");
        System.exit(2);
    }
}
