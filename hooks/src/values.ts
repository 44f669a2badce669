// Turning Java values into JSON the host can record and search traffic for.

import Java from "frida-java-bridge";

const MAX_LIST = 2000;
const MAX_TEXT = 2000;

// Objects whose text form is the datum (a content URI, an address, a path): recorded as text.
// Any other object is recorded by class name only, so recording never calls arbitrary code.
const TEXT_CLASSES = ["android.net.Uri", "java.net.", "java.io.File", "android.content.Intent",
    "android.content.ComponentName", "okhttp3.Request", "android.accounts.Account"];

export function plain(value: any): unknown {
    if (value === null || value === undefined) {
        return null;
    }
    const kind = typeof value;
    if (kind === "string" || kind === "number" || kind === "boolean") {
        return value;
    }
    if (value instanceof Int64 || value instanceof UInt64) {
        return value.toNumber(); // Java long
    }
    if (isArrayLike(value)) {
        const items: unknown[] = [];
        const n = Math.min(value.length, MAX_LIST);
        for (let i = 0; i < n; i++) {
            items.push(plain(value[i]));
        }
        return items;
    }
    return javaText(value);
}

/** Java's toString of an object: interface wrappers (List, Map) lack a JS toString of it. */
function javaText(value: any): string {
    try {
        if (value.$className !== undefined) {
            return String(Java.cast(value, Java.use("java.lang.Object")).toString());
        }
        return String(value.toString());
    } catch (e) {
        return `<${value.$className ?? "object"}>`;
    }
}

function isArrayLike(value: any): boolean {
    return Array.isArray(value) || (typeof value === "object" && typeof value.length === "number"
        && value.$className === undefined);
}

function bytes(value: any): number[] | null {
    if (value === null || value === undefined) {
        return null;
    }
    const out: number[] = [];
    for (let i = 0; i < value.length; i++) {
        out.push(value[i] & 0xff);
    }
    return out;
}

function packageNames(list: any): string[] {
    const names: string[] = [];
    const n = Math.min(list.size(), MAX_LIST);
    for (let i = 0; i < n; i++) {
        const item = list.get(i);
        try {
            names.push(String(item.getClass().getField("packageName").get(item)));
        } catch (e) {
            names.push(String(item));
        }
    }
    return names;
}

function clipText(clip: any): string {
    try {
        const texts: string[] = [];
        for (let i = 0; i < clip.getItemCount(); i++) {
            texts.push(String(clip.getItemAt(i).getText()));
        }
        return texts.join("\n");
    } catch (e) {
        return String(clip.toString());
    }
}

/** The recorded form of an argument, or of `this` (`asText`: always its text form). */
export function describeArg(value: any, asText = false): unknown {
    if (value !== null && typeof value === "object" && value.$className !== undefined
        && value.$className !== "java.lang.String") {
        const name: string = value.$className;
        if (asText || TEXT_CLASSES.some(prefix => name.startsWith(prefix))) {
            return javaText(value).slice(0, MAX_TEXT);
        }
        return `<${name}>`;
    }
    return plain(value);
}

/** An IPv4 address packed little-endian in an int (WifiInfo.getIpAddress). */
function ipv4(value: number): string {
    return [0, 8, 16, 24].map(shift => (value >>> shift) & 0xff).join(".");
}

/** The recorded form of a hooked method's return value, by the catalogue's `format`. */
export function formatReturn(format: string, value: any): unknown {
    if (format === "none" || value === null || value === undefined) {
        return null;
    }
    switch (format) {
        case "location":
            return { lat: value.getLatitude(), lon: value.getLongitude() };
        case "package_list":
            return packageNames(value);
        case "clip":
            return clipText(value);
        case "bytes_hex": {
            const b = bytes(value);
            return b === null ? null : b.map(x => x.toString(16).padStart(2, "0")).join("");
        }
        case "bytes_mac": {
            const b = bytes(value);
            return b === null ? null : b.map(x => x.toString(16).padStart(2, "0")).join(":");
        }
        case "ipv4_int":
            return ipv4(Number(value));
        case "permission_result":
            return value === 0 ? "granted" : "denied";
        default:
            return plain(value);
    }
}

/** Permission names from the argument of a check or request (a String or a String[]). */
export function permissionNames(value: any): string[] {
    const v = plain(value);
    if (v === null) {
        return [];
    }
    return Array.isArray(v) ? v.map(String) : [String(v)];
}
