"""Named groups of mediapipe face-mesh landmarks used to build the head.

Lists are given for the subject's right side (the image's left); the left
side follows through the template's mirror map.  Rings run from the outer
corner to the inner corner (eyes) or from the right corner to the left
corner (lips).
"""

LIP_RINGS_UPPER = (
    (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291),  # outer edge
    (76, 184, 74, 73, 72, 11, 302, 303, 304, 408, 306),
    (62, 183, 42, 41, 38, 12, 268, 271, 272, 407, 292),
    (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308),  # inner edge
)
LIP_RINGS_LOWER = (
    (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291),
    (76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306),
    (62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292),
    (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308),
)
LIP_CORNERS = (61, 76, 62, 78, 291, 306, 292, 308)
MOUTH_CORNER_RIGHT, MOUTH_CORNER_LEFT = 61, 291

EYE_RIGHT_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
EYE_RIGHT_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
BROW_RIGHT = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
BROW_RIGHT_INNER = (107, 55, 66, 65)
BROW_RIGHT_OUTER = (70, 46, 63, 53)
IRIS_RIGHT = (468, 469, 470, 471, 472)  # centre, then +x, up, -x, down on the image
IRIS_LEFT = (473, 474, 475, 476, 477)
NOSE_WING_RIGHT = (129, 49, 48, 64, 98, 102)
CHEEK_RIGHT = (205, 50, 187, 123, 147)
CHIN = 152
NOSE_TIP = 1
FOREHEAD = 10

#: The face oval, clockwise in the image from the top of the forehead (mediapipe's FACEMESH_FACE_OVAL loop)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
