# Numbers handed out by extension = "auto". Maintained by switchboard:
# commit this file with the site so that allocations are reviewed and stay
# put when other users are added. Delete an entry to free its number.

user "sean" {
  extension = 200
}

user "tom" {
  extension = 201
}
