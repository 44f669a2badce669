package org.consentry.specimen;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;

/** The control channel: the harness's stand-in for adb + uiautomator, on 127.0.0.1 only. */
final class ControlServer {
    private final App app;
    private final HttpServer server;

    ControlServer(App app, int port) throws IOException {
        this.app = app;
        this.server = HttpServer.create(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
        server.setExecutor(Executors.newSingleThreadExecutor(r -> new Thread(r, "control-http")));
        server.createContext("/", this::handle);
    }

    int port() {
        return server.getAddress().getPort();
    }

    void start() {
        server.start();
    }

    private void handle(HttpExchange ex) throws IOException {
        try {
            route(ex);
        } catch (IllegalArgumentException e) {
            send(ex, 400, "application/json", error(e.getMessage()));
        } catch (App.StateError e) {
            send(ex, 409, "application/json", error(e.getMessage()));
        } catch (Exception e) {
            e.printStackTrace();
            send(ex, 500, "application/json", error(e.toString()));
        } finally {
            ex.close();
        }
    }

    private void route(HttpExchange ex) throws Exception {
        String method = ex.getRequestMethod();
        String path = ex.getRequestURI().getPath();
        Map<String, String> q = query(ex.getRequestURI().getRawQuery());
        String key = method + " " + path;
        switch (key) {
            case "GET /health":
                json(ex, app.call(app::health));
                break;
            case "POST /resume":
                json(ex, app.call(app::resume));
                break;
            case "GET /dump":
                send(ex, 200, "application/xml; charset=utf-8", app.call(() -> app.current().toXml()));
                break;
            case "POST /click": {
                int x = intParam(q, "x");
                int y = intParam(q, "y");
                json(ex, app.call(() -> app.click(x, y)));
                break;
            }
            case "POST /press": {
                String k = q.getOrDefault("key", "");
                json(ex, app.call(() -> app.press(k)));
                break;
            }
            case "GET /screenshot": {
                Node screen = app.call(app::current);
                sendBytes(ex, 200, "image/png", ScreenPainter.png(screen));
                break;
            }
            case "GET /foreground":
                json(ex, "{\"package\":" + Json.str(app.call(app::foregroundPackage)) + "}");
                break;
            case "POST /start":
                json(ex, app.call(app::start));
                break;
            case "POST /stop":
                json(ex, "{\"ok\":true}");
                stopSoon();
                break;
            default:
                send(ex, 404, "application/json", error("no endpoint " + key
                    + "; endpoints: GET /health /dump /screenshot /foreground, "
                    + "POST /resume /click?x=&y= /press?key= /start /stop"));
        }
    }

    private void stopSoon() {
        Thread stopper = new Thread(() -> {
            int code = 0;
            try {
                app.shutdown();
            } catch (Exception e) {
                e.printStackTrace();
                code = 1;
            }
            server.stop(0);
            System.out.flush();
            System.exit(code);
        }, "stopper");
        stopper.start();
    }

    private static int intParam(Map<String, String> q, String name) {
        String raw = q.get(name);
        if (raw == null) {
            throw new IllegalArgumentException("missing query parameter " + name);
        }
        try {
            return Integer.parseInt(raw);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be an integer, got " + raw);
        }
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new HashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String k = eq < 0 ? pair : pair.substring(0, eq);
            String v = eq < 0 ? "" : pair.substring(eq + 1);
            out.put(URLDecoder.decode(k, StandardCharsets.UTF_8),
                URLDecoder.decode(v, StandardCharsets.UTF_8));
        }
        return out;
    }

    private static String error(String message) {
        return "{\"error\":" + Json.str(message) + "}";
    }

    private static void json(HttpExchange ex, String body) throws IOException {
        send(ex, 200, "application/json", body);
    }

    private static void send(HttpExchange ex, int status, String type, String body)
            throws IOException {
        sendBytes(ex, status, type, body.getBytes(StandardCharsets.UTF_8));
    }

    private static void sendBytes(HttpExchange ex, int status, String type, byte[] body)
            throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }
}
