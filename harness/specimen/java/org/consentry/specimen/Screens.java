package org.consentry.specimen;

/** The specimen's screens (1080x2340 portrait), built fresh for every dump or click. */
final class Screens {
    static final String PKG = "org.consentry.specimen";
    static final String LAUNCHER_PKG = "com.android.launcher3";
    static final int WIDTH = 1080;
    static final int HEIGHT = 2340;

    static final String TITLE = "个人信息保护指引";
    static final String BODY = "欢迎使用 Specimen！我们依据相关法律法规制定了《隐私政策》。"
        + "为向您提供服务，我们会收集设备标识符（IMEI、Android ID、MAC 地址）、位置信息，"
        + "并接入以下第三方 SDK：友盟统计 SDK（com.umeng）用于统计分析，"
        + "腾讯 Bugly（com.tencent.bugly）用于崩溃上报。"
        + "点击“同意”即表示您已阅读并同意上述内容。";
    static final String NOTICE_CHECKBOX = "我已阅读并同意《隐私政策》";

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
            60, 400, 1020, 560)).clickable("item");
        root.add(new Node("android.widget.TextView", PKG, "我的", "item_profile",
            60, 600, 1020, 760)).clickable("item");
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
