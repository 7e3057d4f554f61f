# Numbers handed out by extension = "auto". Maintained by switchboard:
# commit this file with the site so that allocations are reviewed and stay
# put when other users are added. Delete an entry to free its number.

user "aisling-fitzgerald" {
  extension = 200
}

user "aoife-moore" {
  extension = 201
}

user "brendan-burke" {
  extension = 202
}

user "brendan-novak" {
  extension = 203
}

user "brendan-okafor" {
  extension = 204
}

user "caoimhe-chen" {
  extension = 205
}

user "cathal-okafor" {
  extension = 206
}

user "cathal-reddy" {
  extension = 207
}

user "cian-doherty" {
  extension = 208
}

user "ciara-ryan" {
  extension = 209
}

user "ciaran-mccarthy" {
  extension = 210
}

user "ciaran-murphy" {
  extension = 211
}

user "clodagh-flynn" {
  extension = 212
}

user "clodagh-hughes" {
  extension = 213
}

user "clodagh-silva" {
  extension = 214
}

user "colm-doherty" {
  extension = 215
}

user "colm-doyle" {
  extension = 216
}

user "colm-moore" {
  extension = 217
}

user "colm-reilly" {
  extension = 218
}

user "conor-connell" {
  extension = 219
}

user "darragh-flynn" {
  extension = 220
}

user "declan-burke" {
  extension = 221
}

user "deirdre-moore" {
  extension = 222
}

user "diarmuid-carroll" {
  extension = 223
}

user "diarmuid-clarke" {
  extension = 224
}

user "diarmuid-kennedy" {
  extension = 225
}

user "donal-kennedy" {
  extension = 226
}

user "eimear-fitzgerald" {
  extension = 227
}

user "emer-carroll" {
  extension = 228
}

user "fergal-connell" {
  extension = 229
}

user "fergal-quinn" {
  extension = 230
}

user "fionnuala-nolan" {
  extension = 231
}

user "liam-doyle" {
  extension = 232
}

user "liam-nolan" {
  extension = 233
}

user "mairead-burke" {
  extension = 234
}

user "mairead-callaghan" {
  extension = 235
}

user "oisin-brown" {
  extension = 236
}

user "oisin-collins" {
  extension = 237
}

user "oisin-murphy" {
  extension = 238
}

user "oisin-nolan" {
  extension = 239
}

user "orla-lynch" {
  extension = 240
}

user "orla-okafor" {
  extension = 241
}

user "padraig-maguire" {
  extension = 242
}

user "padraig-reddy" {
  extension = 243
}

user "roisin-campbell" {
  extension = 244
}

user "roisin-hughes" {
  extension = 245
}

user "roisin-murray" {
  extension = 246
}

user "ronan-kelly" {
  extension = 247
}

user "ronan-lynch" {
  extension = 248
}

user "saoirse-campbell" {
  extension = 249
}

user "saoirse-collins" {
  extension = 250
}

user "saoirse-kelly" {
  extension = 251
}

user "seamus-oconnor" {
  extension = 252
}

user "sean-ryan" {
  extension = 253
}

user "sinead-connolly" {
  extension = 254
}

user "siobhan-chen" {
  extension = 255
}

user "una-murray" {
  extension = 256
}
