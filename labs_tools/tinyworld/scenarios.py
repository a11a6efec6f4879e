"""Everyday scenarios for the generated dialogues, written for this project.

Each function writes one dialogue into a :class:`~labs_tools.tinyworld.scene.Scene`:
several paraphrases per turn, slots drawn at random, a branching outcome, and a
reference summary built from the same slots.
"""

from __future__ import annotations

from labs_tools.tinyworld import scene as sl
from labs_tools.tinyworld.scene import Scene


def flight(s: Scene) -> None:
    s.topic, s.gist, s.roles = "book a flight", "a flight", {1: "customer", 2: "agent"}
    s.gists = ("a flight to {city}", "booking a flight", "a trip to {city}")
    s.fill(city=s.pick(*sl.CITIES), day=s.pick(*sl.DAYS), price=s.price(180, 900, 10))
    s.say(1, "I'd like to book a flight to {city}, please.", "I need a plane ticket to {city}.",
          "Can you help me fly to {city} next week?")
    s.say(2, "Sure. Which day do you want to leave?", "Of course. When would you like to go?")
    s.say(1, "On {day}, in the morning if possible.", "{day} would be best for me.")
    s.say(2, "There is a seat on {day} for ${price}.",
             "I have a flight on {day}. It costs ${price}.")
    if s.chance(0.65):
        s.say(1, "Great, I'll take it.", "That's fine. Please book it for me.")
        s.say(2, "Done. Your ticket will arrive by email.", "All set. Have a nice trip.")
        s.sums("#Person1# books a flight to {city} on {day} for ${price}.",
               "#Person2# helps #Person1# book a ${price} flight to {city} on {day}.")
    else:
        s.say(1, "That's too expensive for me.", "Hmm, ${price} is more than I can pay.")
        s.say(2, "I'm sorry, that is the cheapest one.", "Sorry, prices are high this week.")
        s.sums("#Person1# wants to fly to {city} on {day} but the ${price} ticket is too "
               "expensive.",
               "#Person1# asks about a flight to {city} but finds ${price} too expensive.")


def clothes(s: Scene) -> None:
    s.topic, s.gist, s.roles = "buy clothes", "buying clothes", {1: "customer", 2: "clerk"}
    s.gists = ("a {colour} {item}", "shopping for clothes", "buying a {item}")
    s.fill(item=s.pick(*sl.CLOTHES), colour=s.pick(*sl.COLOURS), other=s.pick(*sl.COLOURS),
           price=s.price(20, 150))
    s.say(2, "Good afternoon. Can I help you?", "Hello, are you looking for something?")
    s.say(1, "Yes, I'm looking for a {colour} {item}.", "I want to buy a {colour} {item}.")
    s.say(2, "How about this one? It's ${price}.", "This {item} is ${price}. Would you like it?")
    if s.slots["other"] != s.slots["colour"] and s.chance(0.4):
        s.say(1, "Do you have it in {other}?", "Is there one in {other}?")
        s.say(2, "Yes, here you are.", "Let me check. Yes, we have one.")
        s.fill(colour=s.slots["other"])
    if s.chance(0.6):
        s.say(1, "I'll take it.", "Good, I'll buy it.")
        s.sums("#Person1# buys a {colour} {item} for ${price}.",
               "#Person1# buys a {colour} {item} from #Person2#. It costs ${price}.")
    else:
        s.say(1, "It's too expensive. I'll think about it.", "Thanks, but it doesn't fit me.")
        s.sums("#Person1# wants a {colour} {item} but doesn't buy the one for ${price}.",
               "#Person2# shows #Person1# a {colour} {item} for ${price}, but #Person1# doesn't "
               "buy it.")


def doctor(s: Scene) -> None:
    s.topic, s.gist, s.roles = "see a doctor", "a health problem", {1: "patient", 2: "doctor"}
    s.gists = ("{symptom}", "a visit to the doctor", "feeling ill")
    s.fill(symptom=s.pick(*sl.SYMPTOMS), days=s.pick("two", "three", "four", "five"),
           advice=s.pick("rest at home", "drink more water", "take this medicine",
                         "stay in bed"))
    s.say(2, "What seems to be the problem?", "Good morning. How can I help you?")
    s.say(1, "I've had {symptom} for {days} days.", "I have {symptom}. It started {days} days ago.")
    s.say(2, "I see. Have you taken anything for it?", "Have you taken any medicine?")
    s.say(1, "No, nothing yet.", "Yes, but it didn't help.")
    s.say(2, "It's not serious. You should {advice}.", "Don't worry. Please {advice}.")
    if s.chance(0.5):
        s.say(1, "Do I need to come back?", "When should I come back?")
        s.fill(back=s.pick(*sl.DAYS))
        s.say(2, "Come back on {back} if you don't feel better.", "See me again on {back}.")
        s.sums("#Person1# has had {symptom} for {days} days. The doctor tells #Person1# to "
               "{advice} and come back on {back}.",
               "#Person1# sees the doctor about {symptom}. #Person2# says to {advice} and return "
               "on {back}.")
    else:
        s.say(1, "Thank you, doctor.", "Thanks, I will.")
        s.sums("#Person1# has had {symptom} for {days} days and #Person2# tells #Person1# to "
               "{advice}.", "#Person2# advises #Person1#, who has {symptom}, to {advice}.")


def interview(s: Scene) -> None:
    s.topic, s.gist, s.roles = "job interview", "a job interview", {1: "manager", 2: "candidate"}
    s.gists = ("a job as {a_job}", "an interview", "a new job")
    job = s.pick(*sl.JOBS)
    s.fill(job=job, a_job=("an " if job[0] in "aeiou" else "a ") + job,
           years=s.pick("two", "three", "five", "six"), start=s.pick(*sl.DAYS))
    s.say(1, "Please sit down. Why do you want to be {a_job}?",
          "Thanks for coming. Tell me why you applied for the {job} job.")
    s.say(2, "I have worked as {a_job} for {years} years and I enjoy it.",
          "I love this work. I have {years} years of experience as {a_job}.")
    s.say(1, "What are your strengths?", "What can you bring to our team?")
    s.say(2, "I'm hard-working and I learn fast.", "I'm friendly and very organized.")
    if s.chance(0.55):
        s.say(1, "Good. You can start on {start}.", "You are hired. Can you start on {start}?")
        s.say(2, "Thank you so much!", "Wonderful, I will be there.")
        s.sums("#Person2# has {years} years of experience as {a_job} and gets the job. #Person2# "
               "starts on {start}.", "#Person1# interviews #Person2# for {a_job} job and hires "
               "#Person2#, who starts on {start}.")
    else:
        s.say(1, "Thank you. We will call you next week.", "Thanks. We'll let you know soon.")
        s.sums("#Person1# interviews #Person2#, who has {years} years of experience, for {a_job} "
               "job. #Person1# will call #Person2# later.",
               "#Person2# applies for {a_job} job and #Person1# will give an answer next week.")


def restaurant(s: Scene) -> None:
    s.topic, s.gist, s.roles = "order food", "food", {1: "customer", 2: "waiter"}
    s.gists = ("dinner", "ordering {dish}", "a meal at a restaurant")
    s.fill(dish=s.pick(*sl.DISHES), drink=s.pick(*sl.DRINKS), other=s.pick(*sl.DISHES))
    s.say(2, "Are you ready to order?", "Good evening. What would you like?")
    s.say(1, "I'd like the {dish}, please.", "Can I have the {dish}?")
    s.say(2, "Anything to drink?", "And to drink?")
    s.say(1, "Just {drink}, thanks.", "A glass of {drink}, please.")
    if s.chance(0.35):
        s.say(2, "Here you are.", "Here is your {dish}.")
        s.say(1, "Excuse me, this {dish} is cold. It's terrible.",
              "Sorry, but the {dish} tastes terrible.")
        s.say(2, "I'm very sorry. I'll bring you something else.",
                 "Sorry about that. I'll change it.")
        s.sums("#Person1# orders {dish} and {drink}, but complains that the {dish} is terrible.",
               "#Person1# orders {dish} with {drink} and tells #Person2# the food is terrible.")
    else:
        s.say(2, "Coming right up.", "Sure, it will be ready soon.")
        s.sums("#Person1# orders {dish} and {drink} from #Person2#.",
               "#Person2# takes #Person1#'s order of {dish} and {drink}.")


def lost_item(s: Scene) -> None:
    s.topic, s.gist, s.roles = "lost item", "a lost item", {1: "friend", 2: "friend"}
    s.gists = ("a lost {item}", "losing a {item}", "a missing {item}")
    s.fill(item=s.pick(*sl.LOST_ITEMS), place=s.pick(*sl.LOST_PLACES), colour=s.pick(*sl.COLOURS))
    s.say(1, "Oh no, I can't find my {item}!", "Have you seen my {item}? It's gone.")
    s.say(2, "When did you last have it?", "Calm down. Where did you last see it?")
    s.say(1, "I think I left it {place}. What a stupid mistake.",
          "Maybe {place}. I had it there this morning.")
    s.say(2, "What does it look like?", "What color is it?")
    s.say(1, "It's {colour}.", "A {colour} one.")
    if s.chance(0.5):
        s.say(2, "Is this it? It was under your coat.", "Look, here it is, on the chair!")
        s.say(1, "Yes! Thank you so much.", "Oh, what a relief.")
        s.sums("#Person1# thinks the {colour} {item} was lost {place}, but #Person2# finds it.",
               "#Person1# can't find the {colour} {item}. #Person2# finds it.")
    else:
        s.say(2, "Let's call the lost and found.", "You should go back and ask there.")
        s.sums("#Person1# lost a {colour} {item} {place}. #Person2# suggests asking the lost and "
               "found.", "#Person1# left the {colour} {item} {place} and #Person2# helps plan how "
               "to get it back.")


def homework(s: Scene) -> None:
    s.topic, s.gist, s.roles = "homework", "homework", {1: "student", 2: "classmate"}
    s.gists = ("the {subject} homework", "their {subject} homework", "schoolwork")
    s.fill(subject=s.pick(*sl.SUBJECTS), day=s.pick(*sl.DAYS), time=s.pick(*sl.TIMES))
    s.say(1, "Did you finish the {subject} homework?", "Have you done the {subject} homework?")
    if s.chance(0.5):
        s.say(2, "Not yet. It's really hard.", "Not yet. I'm stuck on the last part.")
        s.say(1, "Me too. It's due on {day}, and I don't understand it.",
              "Same here. We have to hand it in on {day}, right?")
    else:
        s.say(2, "Yes, I finished it last night.", "Yes, I did it yesterday.")
        s.say(1, "Lucky you. It's due on {day}, and I don't understand the last part.",
              "I'm still stuck, and we have to hand it in on {day}.")
    if s.chance(0.6):
        s.say(2, "Let's study together at the library at {time}.",
                 "Come over at {time} and we'll do "
              "it together.")
        s.say(1, "Great idea. See you then.", "Thanks, you're a lifesaver.")
        s.sums("#Person1# and #Person2# will do the {subject} homework together at {time}. It's "
               "due on {day}.", "#Person2# agrees to help #Person1# with the {subject} homework "
               "at {time}.")
    else:
        s.say(2, "Sorry, I'm busy. Ask the teacher.", "I can't today. Maybe email the teacher.")
        s.sums("#Person1# needs help with {subject} homework due on {day}, but #Person2# is busy.",
               "#Person2# can't help #Person1# with the {subject} homework due on {day}.")


def apartment(s: Scene) -> None:
    s.topic, s.gist, s.roles = "rent an apartment", "an apartment", {1: "tenant", 2: "landlord"}
    s.gists = ("renting an apartment", "a {rooms}-bedroom apartment", "the rent")
    rooms = s.pick("one", "two", "three")
    s.fill(rooms=rooms, bedrooms="bedroom" if rooms == "one" else "bedrooms",
           rent=s.price(600, 2000, 50),
           near=s.pick("the subway", "a park", "the university", "a shopping mall"))
    s.say(1, "I'm calling about the apartment for rent. Is it still free?",
          "Hi, is the apartment still available?")
    s.say(2, "Yes, it has {rooms} {bedrooms} and it's near {near}.",
          "It is. It has {rooms} {bedrooms}, close to {near}.")
    s.say(1, "How much is the rent?", "What's the monthly rent?")
    s.say(2, "It's ${rent} a month.", "${rent} a month, water included.")
    if s.chance(0.5):
        s.say(1, "Can I see it tomorrow?", "Sounds good. When can I visit?")
        s.say(2, "Sure, come tomorrow afternoon.", "Tomorrow at 4 pm works.")
        s.sums("#Person1# calls about a {rooms}-bedroom apartment near {near} for ${rent} a month "
               "and will visit it tomorrow.", "#Person2# rents out a {rooms}-bedroom apartment "
               "near {near}. #Person1# will see it tomorrow.")
    else:
        s.say(1, "That's a bit expensive for me.", "Hmm, that's more than I want to pay.")
        s.sums("#Person1# asks about a {rooms}-bedroom apartment near {near}, but ${rent} a month "
               "is too much.", "#Person1# thinks the ${rent} rent for the apartment near {near} "
               "is too high.")


def hotel(s: Scene) -> None:
    s.topic, s.gist, s.roles = "hotel check-in", "a hotel room", {1: "guest", 2: "receptionist"}
    s.gists = ("checking into a hotel", "a {room}", "a hotel stay")
    s.fill(room=s.pick(*sl.ROOMS), nights=s.pick("two", "three", "four", "five"),
           number=s.rng.randrange(101, 520), breakfast=s.pick("7 am", "8 am"))
    s.say(2, "Welcome. Do you have a reservation?", "Good evening. Checking in?")
    s.say(1, "Yes, a {room} for {nights} nights.", "I booked a {room} for {nights} nights.")
    s.say(2, "Here is your key. Room {number}.", "You're in room {number}. Here's the key.")
    if s.chance(0.5):
        s.say(1, "When is breakfast?", "What time is breakfast?")
        s.say(2, "Breakfast starts at {breakfast}.", "From {breakfast}, in the lobby.")
        s.sums("#Person1# checks into a {room} for {nights} nights. Breakfast starts at "
               "{breakfast}.",
               "#Person2# gives #Person1# the key to room {number} and says breakfast is at "
               "{breakfast}.")
    else:
        s.say(1, "Thanks. Can I get a wake-up call?", "Could you call me in the morning?")
        s.say(2, "Of course.", "No problem.")
        s.sums("#Person1# checks into room {number} for {nights} nights and asks for a wake-up "
               "call.",
               "#Person2# checks #Person1# into a {room} and will give a wake-up call.")


def car_repair(s: Scene) -> None:
    s.topic, s.gist, s.roles = "car repair", "a car", {1: "driver", 2: "mechanic"}
    s.gists = ("repairing a car", "the {part}", "a car problem")
    part = s.pick(*sl.CAR_PARTS)
    s.fill(part=part, cost=s.price(50, 600, 10), day=s.pick(*sl.DAYS),
           needs="need" if part.endswith("s") else "needs")
    s.say(1, "My car is making a strange noise.", "Something is wrong with my car.")
    s.say(2, "Let me check. I think it's the {part}.", "It looks like the {part} {needs} work.")
    s.say(1, "How much will it cost?", "Is it expensive to fix?")
    s.say(2, "About ${cost}. It will be ready on {day}.", "Around ${cost}, ready by {day}.")
    if s.chance(0.6):
        s.say(1, "OK, please fix it.", "Fine, go ahead.")
        s.sums("#Person2# will fix the {part} of #Person1#'s car for ${cost} by {day}.",
               "#Person1#'s car needs work on the {part}. It costs ${cost} and will be ready on "
               "{day}.")
    else:
        s.say(1, "That's too much. I'll get another price.", "I'll think about it.")
        s.sums("#Person2# says the {part} of #Person1#'s car {needs} fixing for ${cost}, but "
               "#Person1# wants another price.", "#Person1# thinks ${cost} to fix the {part} is "
               "too much.")


def party(s: Scene) -> None:
    s.topic, s.gist, s.roles = "birthday party", "a party", {1: "friend", 2: "friend", 3: "friend"}
    s.gists = ("{who}'s birthday", "a birthday party", "a party for {who}")
    s.fill(day=s.pick(*sl.DAYS), time=s.pick(*sl.TIMES), gift=s.pick(*sl.GIFTS),
           who=s.pick("Mom", "Lily", "Jack", "Grandpa", "Emma"))
    s.say(1, "{who}'s birthday is on {day}. Let's have a party.",
          "Shall we throw a surprise party for {who} on {day}?")
    s.say(2, "Good idea. What time?", "I'm in. When should it start?")
    s.say(1, "At {time}, at my place.", "Let's say {time}.")
    if s.chance(0.45):
        s.say(3, "Can I come too? I'll bring {gift}.", "Count me in. I can get {gift}.")
        s.say(1, "Of course!", "Sure, the more the merrier.")
        s.sums("#Person1#, #Person2# and #Person3# plan a party for {who} on {day} at {time}. "
               "#Person3# will bring {gift}.", "#Person1# invites #Person2# and #Person3# to "
               "{who}'s party on {day}. #Person3# brings {gift}.")
    else:
        s.say(2, "I'll buy {gift} as a present.", "We could give {who} {gift}.")
        s.sums("#Person1# and #Person2# plan a birthday party for {who} on {day} at {time} and "
               "will give {gift}.", "#Person1# and #Person2# will have a party for {who} on {day}. "
               "The present is {gift}.")


def bank(s: Scene) -> None:
    s.topic, s.gist, s.roles = "open a bank account", "a bank account", {1: "customer", 2: "clerk"}
    s.gists = ("opening an account", "a {kind} account", "the bank")
    s.fill(kind=s.pick("savings", "checking"), amount=s.price(50, 1000, 50))
    s.say(1, "I'd like to open a {kind} account.", "Hello, I want to open a {kind} account.")
    s.say(2, "Sure. May I see your ID?", "No problem. Do you have an ID card?")
    s.say(1, "Here it is.", "Yes, here you are.")
    s.say(2, "How much would you like to deposit?", "What will your first deposit be?")
    s.say(1, "${amount}, please.", "I'll put in ${amount} today.")
    s.sums("#Person1# opens a {kind} account and deposits ${amount}.",
           "#Person2# helps #Person1# open a {kind} account with ${amount}.")
    if s.chance(0.4):
        s.say(2, "Done. Your account is open.", "All done. Anything else?")
        s.say(1, "Can I get a card today?", "Will I get a bank card?")
        s.say(2, "It will arrive by mail next week.", "Your card comes in a week.")
        s.sums("The card will arrive next week.", "#Person1# will get the card next week.")


def movie(s: Scene) -> None:
    s.topic, s.gist, s.roles = "go to the movies", "a movie", {1: "friend", 2: "friend"}
    s.gists = ("going to the cinema", "a {kind}", "a film")
    s.fill(kind=s.pick(*sl.FILM_KINDS), other=s.pick(*sl.FILM_KINDS), time=s.pick(*sl.TIMES),
           day=s.pick(*sl.DAYS))
    s.say(1, "Do you want to see a movie on {day}?",
             "Are you free on {day}? Let's go to the cinema.")
    s.say(2, "Sure. What's on?", "Good idea. What do you want to see?")
    s.say(1, "There's a new {kind} at {time}.", "How about the {kind}? It starts at {time}.")
    if s.slots["other"] != s.slots["kind"] and s.chance(0.5):
        s.say(2, "I don't want to see a {kind}. Can we see the {other} instead?",
              "Hmm, I'd rather watch the {other}.")
        s.say(1, "OK, the {other} it is.", "Fine, let's see the {other}.")
        s.sums("#Person1# and #Person2# will see a {other} on {day} instead of the {kind}.",
               "#Person1# suggests a {kind}, but #Person2# prefers the {other}. They go on {day}.")
    else:
        s.say(2, "Great, I'll buy the tickets.", "Sounds fun. See you there.")
        s.sums("#Person1# and #Person2# will watch a {kind} on {day} at {time}.",
               "#Person1# invites #Person2# to see a {kind} at {time} on {day}.")


def gym(s: Scene) -> None:
    s.topic, s.gist, s.roles = "join a gym", "a gym", {1: "visitor", 2: "trainer"}
    s.gists = ("joining a gym", "{sport} classes", "a gym membership")
    s.fill(sport=s.pick(*sl.SPORTS), fee=s.price(20, 90), times=s.pick("twice", "three times"))
    s.say(1, "How much is a membership here?", "I'm thinking of joining this gym.")
    s.say(2, "It's ${fee} a month. What do you like to do?",
             "Welcome! Membership is ${fee} a month.")
    s.say(1, "I want to get better at {sport}.", "Mostly {sport}. I want to get fit.")
    s.say(2, "We have {sport} classes {times} a week.",
             "Great, there are {sport} classes {times} a "
          "week.")
    if s.chance(0.6):
        s.say(1, "Perfect, sign me up.", "OK, I'll join.")
        s.sums("#Person1# joins the gym for ${fee} a month to do {sport}.",
               "#Person2# tells #Person1# about {sport} classes and #Person1# joins for ${fee} a "
               "month.")
    else:
        s.say(1, "I'll come back after I think about it.", "Let me think about it first.")
        s.sums("#Person1# asks about {sport} classes at the gym, which cost ${fee} a month, but "
               "doesn't join yet.",
               "#Person1# will think about joining the gym for ${fee} a month.")


def delivery(s: Scene) -> None:
    s.topic, s.gist, s.roles = "package delivery", "a package", {1: "customer", 2: "agent"}
    s.gists = ("a late package", "an order", "a delivery")
    s.fill(thing=s.pick("shoes", "a lamp", "a phone case", "books", "a coffee machine", "a desk"),
           day=s.pick(*sl.DAYS), late=s.pick("three", "five", "seven"))
    s.say(1, "My package hasn't arrived. I ordered {thing} {late} days ago.",
          "I'm still waiting for a package. I ordered {thing} {late} days ago.")
    if s.chance(0.5):
        s.say(2, "Let me check. It was sent to the wrong address. It will arrive on {day}.",
              "I checked your order. There was a delay. You'll get it on {day}.")
        s.say(1, "OK, thanks for checking.", "Fine. I hope it comes this time.")
        s.sums("#Person1#'s package with {thing} is late. #Person2# says it will arrive on "
               "{day}.",
               "#Person1# complains about a late package with {thing}, and #Person2# promises "
               "it on {day}.")
    else:
        s.say(2, "Let me check. It seems to be lost. We will send a new one.",
              "I checked your order. It's lost, so I'll send another.")
        s.say(1, "Please do it quickly.", "Thank you, I need it soon.")
        s.sums("The order of {thing} #Person1# made {late} days ago is lost, so #Person2# will "
               "send a new one.", "#Person2# will replace #Person1#'s lost package with {thing}.")


def weather_trip(s: Scene) -> None:
    s.topic, s.gist, s.roles = "weekend plans", "the weekend", {1: "friend", 2: "friend"}
    s.gists = ("a trip to {place}", "weekend plans", "a day out")
    s.fill(place=s.pick("the beach", "the mountains", "the lake", "the countryside"),
           day=s.pick("Saturday", "Sunday"), alt=s.pick("a museum", "a shopping mall", "a cafe"))
    s.say(1, "Let's go to {place} on {day}.", "How about a trip to {place} this {day}?")
    if s.chance(0.5):
        s.say(2, "The radio says the weather will be terrible. Heavy rain all day.",
              "I heard it will rain. The weather looks terrible.")
        s.say(1, "Then let's go to {alt} instead.", "OK, what about {alt}?")
        s.say(2, "Good idea.", "Sure, that works.")
        s.sums("#Person1# wants to go to {place} on {day}, but because of the bad weather they go "
               "to {alt}.", "#Person2# says it will rain on {day}, so they visit {alt} instead of "
               "{place}.")
    else:
        s.say(2, "Sounds great. The weather will be sunny.", "Yes! It's going to be warm.")
        s.say(1, "I'll bring some food.", "I'll pick you up at 8.")
        s.sums("#Person1# and #Person2# will go to {place} on {day}.",
               "#Person1# and #Person2# plan a trip to {place} on {day}.")


SCENARIOS = (flight, clothes, doctor, interview, restaurant, lost_item, homework, apartment,
             hotel, car_repair, party, bank, movie, gym, delivery, weather_trip)
