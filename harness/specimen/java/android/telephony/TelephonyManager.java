package android.telephony;

/** Stub of android.telephony.TelephonyManager returning the specimen's fixed identifiers. */
public class TelephonyManager {
    static final String IMEI = "866123045678912";
    static final String MEID = "A1000049D2F7B1";

    /** IMEI of a SIM slot: the device IMEI with its last digit replaced by the slot number. */
    private static String slotImei(int slotIndex) {
        return IMEI.substring(0, IMEI.length() - 1) + slotIndex;
    }

    public String getDeviceId() {
        return IMEI;
    }

    public String getDeviceId(int slotIndex) {
        return slotImei(slotIndex);
    }

    public String getImei() {
        return IMEI;
    }

    public String getImei(int slotIndex) {
        return slotImei(slotIndex);
    }

    public String getMeid() {
        return MEID;
    }

    public String getMeid(int slotIndex) {
        return MEID;
    }

    public String getSubscriberId() {
        return "460001234567890";
    }

    public String getSimSerialNumber() {
        return "89860012345678901234";
    }

    public String getLine1Number() {
        return "+8613800138000";
    }
}
