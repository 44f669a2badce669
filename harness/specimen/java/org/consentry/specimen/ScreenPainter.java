package org.consentry.specimen;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import javax.imageio.ImageIO;

/** Draws a screen's boxes and texts into a PNG (headless Java2D), at a third of full size. */
final class ScreenPainter {
    private static final int SCALE = 3;

    private ScreenPainter() {
    }

    static byte[] png(Node root) {
        BufferedImage image = new BufferedImage(Screens.WIDTH / SCALE, Screens.HEIGHT / SCALE,
            BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, image.getWidth(), image.getHeight());
            paint(g, root);
        } finally {
            g.dispose();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static void paint(Graphics2D g, Node node) {
        int x = node.bounds[0] / SCALE;
        int y = node.bounds[1] / SCALE;
        int w = (node.bounds[2] - node.bounds[0]) / SCALE;
        int h = (node.bounds[3] - node.bounds[1]) / SCALE;
        g.setColor(node.clickable ? new Color(0xCCE0FF) : new Color(0xF4F4F4));
        g.fillRect(x, y, w, h);
        g.setColor(Color.GRAY);
        g.drawRect(x, y, w, h);
        if (!node.text.isEmpty()) {
            drawText(g, node.text, x + 4, y + 14, w - 8);
        }
        for (Node child : node.children) {
            paint(g, child);
        }
    }

    /** Text is best effort: a host without fonts still gets the boxes. */
    private static void drawText(Graphics2D g, String text, int x, int y, int width) {
        try {
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            int perLine = Math.max(8, width / 11);
            for (int i = 0; i < text.length() && i / perLine < 6; i += perLine) {
                g.drawString(text.substring(i, Math.min(text.length(), i + perLine)),
                    x, y + (i / perLine) * 13);
            }
        } catch (RuntimeException | Error e) {
            // no usable font configuration: leave the box without its label
        }
    }
}
