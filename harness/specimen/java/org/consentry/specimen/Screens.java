package org.consentry.specimen;

/** The specimen's screens (1080x2340 portrait), built fresh for every dump or click. */
final class Screens {
    static final String PKG = "org.consentry.specimen";
    static final String LAUNCHER_PKG = "com.android.launcher3";
    static final String PERMISSION_PKG = "com.google.android.permissioncontroller";
    static final String PERMISSION_IDS = "com.android.permissioncontroller:id/";
    static final int WIDTH = 1080;
    static final int HEIGHT = 2340;

    static final String TITLE = "个人信息保护指引";
    static final String BODY = "欢迎使用 Specimen！我们依据相关法律法规制定了《隐私政策》。"
        + "为向您提供服务，我们会收集设备标识符（IMEI、Android ID、MAC 地址）、位置信息，"
        + "并接入以下第三方 SDK：友盟统计 SDK（com.umeng）用于统计分析，"
        + "腾讯 Bugly（com.tencent.bugly）用于崩溃上报。"
        + "点击“同意”即表示您已阅读并同意上述内容。";
    static final String NOTICE_CHECKBOX = "我已阅读并同意《隐私政策》";
    static final String SECOND_TITLE = "温馨提示";
    static final String SECOND_BODY = "您需要同意《隐私政策》才能使用 Specimen 的完整服务。"
        + "我们仅在您同意后收集设备标识符和位置信息，用于提供和改进服务。";
    static final String PERMISSION_MESSAGE = "Allow Specimen to access this device's location?";

    private Screens() {
    }

    private static Node root(String pkg) {
        return new Node("android.widget.FrameLayout", pkg, "", "", 0, 0, WIDTH, HEIGHT);
    }

    private static Node dialogFrame(Node root) {
        Node box = root.add(new Node("android.widget.LinearLayout", PKG, "", "dialog_root",
            90, 560, 990, 1780));
        box.add(new Node("android.widget.TextView", PKG, TITLE, "dialog_title",
            150, 620, 930, 700));
        Node scroll = box.add(new Node("android.widget.ScrollView", PKG, "", "dialog_scroll",
            150, 720, 930, 1480));
        scroll.scrollable = true;
        scroll.add(new Node("android.widget.TextView", PKG, BODY, "dialog_body",
            150, 720, 930, 1480));
        return box;
    }

    /** The privacy dialog: agree / disagree buttons and a policy link. */
    static Node privacyDialog() {
        Node root = root(PKG);
        Node box = dialogFrame(root);
        box.add(new Node("android.widget.TextView", PKG, "《隐私政策》", "policy_link",
            150, 1500, 450, 1560)).clickable("policy");
        box.add(new Node("android.widget.Button", PKG, "不同意", "btn_disagree",
            150, 1620, 510, 1740)).clickable("disagree");
        box.add(new Node("android.widget.Button", PKG, "同意", "btn_agree",
            570, 1620, 930, 1740)).clickable("agree");
        return root;
    }

    /** The "notice" variant: a pre-ticked checkbox and one acknowledge button. */
    static Node notice(boolean checked) {
        Node root = root(PKG);
        Node box = dialogFrame(root);
        Node check = box.add(new Node("android.widget.CheckBox", PKG, NOTICE_CHECKBOX,
            "cb_agree", 150, 1500, 930, 1580)).clickable("toggle");
        check.checkable = true;
        check.checked = checked;
        box.add(new Node("android.widget.Button", PKG, "我知道了", "btn_ok",
            150, 1620, 930, 1740)).clickable("acknowledge");
        return root;
    }

    /** The home screen; limited mode after a refusal. */
    static Node home(boolean limited) {
        Node root = root(PKG);
        root.add(new Node("android.widget.TextView", PKG, "Welcome", "home_title",
            60, 120, 1020, 240));
        root.add(new Node("android.widget.TextView", PKG, limited ? "基础浏览模式" : "完整功能模式",
            "home_mode", 60, 260, 1020, 340));
        root.add(new Node("android.widget.TextView", PKG, "扫一扫", "item_scan",
            60, 400, 1020, 560)).clickable("open-scan");
        root.add(new Node("android.widget.TextView", PKG, "我的", "item_profile",
            60, 600, 1020, 760)).clickable("open-profile");
        root.add(new Node("android.widget.TextView", PKG, "口令红包", "item_code",
            60, 800, 1020, 960)).clickable("open-code");
        return root;
    }

    /** Second layer after 不同意 (second-layer variant): refuse again, exit, or reconsider. */
    static Node secondLayer() {
        Node root = root(PKG);
        Node box = root.add(new Node("android.widget.LinearLayout", PKG, "", "second_root",
            90, 760, 990, 1580));
        box.add(new Node("android.widget.TextView", PKG, SECOND_TITLE, "second_title",
            150, 820, 930, 900));
        box.add(new Node("android.widget.TextView", PKG, SECOND_BODY, "second_body",
            150, 920, 930, 1200));
        box.add(new Node("android.widget.Button", PKG, "仍不同意", "btn_still_disagree",
            150, 1240, 930, 1330)).clickable("disagree-again");
        box.add(new Node("android.widget.Button", PKG, "退出", "btn_exit",
            150, 1350, 530, 1440)).clickable("exit");
        box.add(new Node("android.widget.Button", PKG, "再想想", "btn_reconsider",
            550, 1350, 930, 1440)).clickable("reconsider");
        return root;
    }

    /** The runtime-permission dialog, drawn by the permission controller (Android 11+). */
    static Node permissionDialog() {
        Node root = new Node("android.widget.FrameLayout", PERMISSION_PKG, "", "", 0, 0, WIDTH,
            HEIGHT);
        Node box = root.add(new Node("android.widget.LinearLayout", PERMISSION_PKG, "",
            PERMISSION_IDS + "grant_dialog", 66, 1100, 1014, 2180));
        box.add(new Node("android.widget.TextView", PERMISSION_PKG, PERMISSION_MESSAGE,
            PERMISSION_IDS + "permission_message", 132, 1220, 948, 1380));
        box.add(new Node("android.widget.Button", PERMISSION_PKG, "While using the app",
            PERMISSION_IDS + "permission_allow_foreground_only_button",
            132, 1560, 948, 1700)).clickable("perm-allow");
        box.add(new Node("android.widget.Button", PERMISSION_PKG, "Only this time",
            PERMISSION_IDS + "permission_allow_one_time_button",
            132, 1720, 948, 1860)).clickable("perm-allow");
        box.add(new Node("android.widget.Button", PERMISSION_PKG, "Don't allow",
            PERMISSION_IDS + "permission_deny_button", 132, 1880, 948, 2020))
            .clickable("perm-deny");
        return root;
    }

    private static Node subScreen(String title, String id) {
        Node root = root(PKG);
        root.add(new Node("android.widget.ImageButton", PKG, "", "btn_back",
            20, 120, 140, 240)).clickable("home").desc = "返回";
        root.add(new Node("android.widget.TextView", PKG, title, id, 160, 120, 1020, 240));
        return root;
    }

    static Node scan() {
        Node root = subScreen("扫一扫", "scan_title");
        root.add(new Node("android.widget.TextView", PKG, "相册", "scan_album",
            60, 2000, 1020, 2160)).clickable("item");
        return root;
    }

    static Node profile() {
        Node root = subScreen("我的", "profile_title");
        root.add(new Node("android.widget.TextView", PKG, "设置", "profile_settings",
            60, 400, 1020, 560)).clickable("open-settings");
        root.add(new Node("android.widget.TextView", PKG, "退出登录", "profile_logout",
            60, 600, 1020, 760)).clickable("logout");
        return root;
    }

    static Node settings() {
        Node root = subScreen("设置", "settings_title");
        root.add(new Node("android.widget.TextView", PKG, "通知", "settings_notifications",
            60, 400, 1020, 560)).clickable("item");
        root.add(new Node("android.widget.TextView", PKG, "注销账号", "settings_delete_account",
            60, 600, 1020, 760)).clickable("item");
        return root;
    }

    /** The share-code screen: opening it reads the clipboard (first party, after consent). */
    static Node code() {
        Node root = subScreen("口令红包", "code_title");
        root.add(new Node("android.widget.TextView", PKG, "正在识别剪贴板中的口令…", "code_status",
            60, 400, 1020, 560));
        return root;
    }

    /** What shows while the app is not in the foreground. */
    static Node launcher() {
        Node root = root(LAUNCHER_PKG);
        Node specimen = root.add(new Node("android.widget.TextView", LAUNCHER_PKG, "Specimen", "",
            100, 1800, 300, 2000)).clickable("launch");
        specimen.desc = "Specimen";
        Node phone = root.add(new Node("android.widget.TextView", LAUNCHER_PKG, "Phone", "",
            400, 1800, 600, 2000));
        phone.desc = "Phone";
        return root;
    }
}
