package org.consentry.specimen;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** The user's answer to the privacy dialog, kept in the app's data dir (wiped by "pm clear"). */
final class ConsentStore {
    private final Path file;

    ConsentStore(Path dataDir) {
        this.file = dataDir.resolve("consent.txt");
    }

    /** "accept", "reject" or null when never answered. */
    String load() {
        try {
            if (!Files.exists(file)) {
                return null;
            }
            String value = Files.readString(file, StandardCharsets.UTF_8).trim();
            return value.equals("accept") || value.equals("reject") ? value : null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    void save(String answer) {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling("consent.txt.tmp");
            Files.writeString(tmp, answer + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
