// Turning Java values into JSON the host can record and search traffic for.

const MAX_LIST = 2000;

export function plain(value: any): unknown {
    if (value === null || value === undefined) {
        return null;
    }
    const kind = typeof value;
    if (kind === "string" || kind === "number" || kind === "boolean") {
        return value;
    }
    if (isArrayLike(value)) {
        const items: unknown[] = [];
        const n = Math.min(value.length, MAX_LIST);
        for (let i = 0; i < n; i++) {
            items.push(plain(value[i]));
        }
        return items;
    }
    try {
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
