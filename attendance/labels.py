"""How attendance codes read in words: audit actions, targets and the face engine's refusals."""

from django.utils.translation import gettext_lazy as _

from retail.labels import register_actions, register_group, register_target

register_actions(
    {
        "face.consent_given": _("Face consent given"),
        "face.consent_withdrawn": _("Face consent withdrawn"),
        "face.enrolled": _("Face enrolled"),
        "face.enrollment_refused": _("Face enrollment refused"),
        "face.deleted": _("Face data deleted"),
        "face.read": _("Face data read"),
        "face.consent_text": _("Face consent text changed"),
        "attendance.policy": _("Attendance policy changed"),
        "attendance.shift": _("Shift saved"),
        "attendance.schedule": _("Schedule set"),
        "attendance.schedule_cleared": _("Schedule cleared"),
        "attendance.correction": _("Attendance corrected"),
        "attendance.retention": _("Old attendance data deleted"),
        "attendance.pin_set": _("Punch PIN set"),
    }
)
register_group(_("Face data"), "face.")
register_group(_("Attendance"), "attendance.")
register_target("attendance.ConsentText", _("consent text"))

# Why a frame cannot be used, in words for the person in front of the camera.
FACE_MESSAGES = {
    "no_face": _("No face found. Look straight into the camera."),
    "many_faces": _("More than one face in the picture. Only you should be in view."),
    "too_small": _("Your face is too far away. Come closer to the camera."),
    "too_dark": _("It is too dark. Find more light."),
    "blurry": _("The picture is blurry. Hold still."),
    "pose": _("Face the camera straight on, head level."),
    "bad_image": _("This picture cannot be read. Try again."),
    "liveness": _("We could not see you blink or turn your head. Follow the instruction and try again."),
}

# A phone punch's risks (Punch.risk codes, attendance/phone.py), in words for the store's managers.
PUNCH_RISKS = {
    "new_device": _("a new phone"),
    "no_location": _("no location"),
    "outside_geofence": _("outside the store"),
    "odd_hour": _("an unusual hour"),
    "pattern": _("repeated unusual punches this week"),
}
